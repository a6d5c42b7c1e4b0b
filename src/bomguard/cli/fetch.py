"""``bomguard fetch``: a mirror of everything an SBOM needs, for offline runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bomguard.cli._common import (
    EXIT_PASS,
    index_options,
    make_index_options,
    make_progress,
    output_options,
)

__all__ = ["fetch"]

#: How many of the releases or files that could not be fetched an error names.
_SHOWN = 5


@click.command()
@click.argument("sbom", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--into",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory to write the mirror into (created if missing).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 even when some releases or files could not be fetched (their components "
    "will be 'unknown' offline).",
)
@click.option(
    "--drift-depth",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Also mirror this many earlier releases of each component, for drift offline.",
)
@index_options
@click.option("-v", "--verbose", is_flag=True, help="Tracebacks on errors.")
@output_options
def fetch(
    sbom: Path,
    into: Path,
    allow_partial: bool,
    drift_depth: int,
    verbose: bool,
    quiet: bool,
    no_progress: bool,
    no_color: bool,
    **index: Any,
) -> None:
    """Fetch the pages and provenance SBOM needs into a mirror, for offline runs.

    A later 'bomguard enrich SBOM --mirror DIR --trust-root embedded' makes no network
    request at all and gives the same statuses. A partial mirror (something could not be
    fetched) exits 3 unless --allow-partial.
    """
    from bomguard.errors import OperationalError
    from bomguard.pipeline import EnrichOptions
    from bomguard.pipeline import fetch as run

    try:
        into.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OperationalError(f"{into}: cannot create: {err.strerror or err}") from err
    options = EnrichOptions(index=make_index_options(**index), drift_depth=drift_depth)
    progress = make_progress(quiet=quiet, no_progress=no_progress, no_color=no_color)
    try:
        counts = run(sbom, into, options, observer=progress)
    finally:
        progress.close()
    if not quiet:
        click.echo(
            f"bomguard: mirrored {counts['releases']} releases, {counts['files']} files, "
            f"{counts['provenance']} provenance objects into {into}"
            + (f" ({counts['unknown']} could not be fetched)" if counts["unknown"] else ""),
            err=True,
        )
    failed: list[str] = counts["failed"]
    if failed and not allow_partial:
        shown = ", ".join(failed[:_SHOWN]) + (", ..." if len(failed) > _SHOWN else "")
        raise OperationalError(
            f"{into}: the mirror is partial: {len(failed)} could not be fetched ({shown})",
            hint="run 'bomguard enrich' online to see why, or pass --allow-partial to "
            "accept a partial mirror (those components are 'unknown' offline)",
        )
    sys.exit(EXIT_PASS)
