"""What ``diff`` and ``upgrades`` share: their options (those of ``enrich`` that apply),
the options object they build, and how their output is written."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from bomguard.cli._common import index_options, make_index_options, trust_root_options

__all__ = ["check_output", "emit", "make_options", "review_options"]


def review_options(func: Callable[..., None]) -> Callable[..., None]:
    """Policy, trust root, pins, mirror, index, CEL and output options."""
    options = [
        click.option(
            "-o",
            "--output",
            default="-",
            show_default=True,
            help="Where to write the output ('-' for stdout).",
        ),
        click.option(
            "--policy",
            "policies",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="A policy file (repeatable); its rules see component.change. Default: fail "
            "only on invalid provenance.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Also fail when a judged release's provenance is unknown.",
        ),
        *trust_root_options("tuf"),
        click.option(
            "--pins",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Expected identities too: a pylock.toml with attestation-identities, or a "
            "pin file.",
        ),
        click.option(
            "--mirror",
            type=click.Path(file_okay=False, exists=True, path_type=Path),
            help="Read pages and provenance from a 'bomguard fetch' directory: no network.",
        ),
    ]
    tail = [
        click.option(
            "--hash-files",
            is_flag=True,
            help="Download every distribution file judged (streamed, not kept) and bind "
            "verification to the bytes received.",
        ),
        click.option(
            "--max-file-bytes",
            type=click.IntRange(1),
            metavar="BYTES",
            help="With --hash-files: a larger file is not downloaded and is unknown.",
        ),
        click.option(
            "--cel-engine",
            type=click.Choice(["auto", "python", "cpp"]),
            default="auto",
            show_default=True,
            help="CEL engine, as for 'bomguard enrich'.",
        ),
        click.option("-v", "--verbose", is_flag=True, help="Tracebacks on errors."),
    ]
    for option in reversed(tail):
        func = option(func)
    func = index_options(func)
    for option in reversed(options):
        func = option(func)
    return func


def make_options(
    *,
    policies: Sequence[Path],
    strict: bool,
    trust_root: str,
    staging: bool,
    pins: Path | None,
    mirror: Path | None,
    hash_files: bool,
    max_file_bytes: int | None,
    cel_engine: str,
    input_format: str | None = None,
    **index: Any,
) -> Any:
    """The :class:`~bomguard.pipeline.EnrichOptions` the review pipelines run with."""
    from bomguard.pipeline import EnrichOptions

    if hash_files and mirror is not None:
        raise click.UsageError(
            "--hash-files downloads from the index; it cannot be used with --mirror"
        )
    return EnrichOptions(
        policies=tuple(policies),
        index=make_index_options(
            mirror=mirror, hash_files=hash_files, max_file_bytes=max_file_bytes, **index
        ),
        trust_root=trust_root,
        staging=staging,
        strict=strict,
        drift_depth=0,
        pins=pins,
        input_format=input_format,
        cel_engine=cel_engine,
    )


def check_output(output: str, inputs: Sequence[tuple[str, Path | None]]) -> None:
    """Refuse, before any work, an output that cannot be written or is an input (exit 2)."""
    from bomguard._io import Destination, check_destinations

    if output == "-":
        return
    check_destinations(
        [Destination("-o/--output", Path(output))],
        [Destination(option, path) for option, path in inputs if path is not None],
    )


def emit(output: str, data: bytes, summary: str | None) -> None:
    """Write the output (all or nothing) and append ``summary`` to ``$GITHUB_STEP_SUMMARY``."""
    from bomguard._io import write_all_atomic

    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        write_all_atomic([(Path(output), data)])
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file and summary is not None:
        try:
            with Path(summary_file).open("a", encoding="utf-8") as handle:
                handle.write(summary)
        except OSError as err:
            click.echo(f"bomguard: cannot append to GITHUB_STEP_SUMMARY: {err}", err=True)
