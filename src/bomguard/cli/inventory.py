"""``bomguard inventory``: what the store knows across every SBOM enriched into it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bomguard.cli._common import EXIT_PASS

__all__ = ["inventory"]


@click.command()
@click.argument("view", type=click.Choice(["contains", "coverage", "drift"]), default="coverage")
@click.option("--project", help="Only this project (PEP 503 name or as written).")
@click.option("--version", "version", help="With 'contains': only this version.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--store",
    envvar="BOMGUARD_STORE",
    help="The evidence store: a SQLite file or postgresql://... (default: the one enrich uses).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="BOMGUARD_CACHE_DIR",
    help="Cache directory whose DIR/bomguard.sqlite3 is the store.",
)
def inventory(
    view: str,
    project: str | None,
    version: str | None,
    fmt: str,
    store: str | None,
    cache_dir: Path | None,
) -> None:
    """Report on the store: which SBOMs contain a project ('contains'), verified coverage
    per SBOM and fleet-wide ('coverage'), or every drift event seen with the SBOMs it
    affected ('drift')."""
    from bomguard.errors import InputError
    from bomguard.index import default_cache_dir
    from bomguard.store import STORE_FILENAME, is_dsn, open_store
    from bomguard.store.inventory import contains, coverage, drift, render

    location = store or str((cache_dir or default_cache_dir()) / STORE_FILENAME)
    if not is_dsn(location) and not Path(location).is_file():
        raise InputError(f"--store {location}: no store there (run bomguard enrich first)")
    opened = open_store(location)
    if opened is None:
        raise InputError(f"--store {location}: no key to open it with")
    try:
        rows = opened.sbom_rows()
    finally:
        opened.close()
    if view == "contains":
        table = contains(rows, project, version)
    elif view == "drift":
        table = drift(rows, project)
    else:
        table = coverage(rows)
    sys.stdout.write(render(table, fmt))
    sys.exit(EXIT_PASS)
