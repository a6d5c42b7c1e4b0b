"""``bomguard data refresh``: replace the PyPI download-rank snapshot from a live source."""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["data_group"]


@click.group("data")
def data_group() -> None:
    """Manage the reference data bomguard ships (PyPI download ranks)."""


@data_group.command("refresh")
@click.option(
    "--url",
    default=None,
    help="where to download the list of most-downloaded projects from (a rank/project TSV, "
    "or top-pypi-packages JSON); default: BOMGUARD_RANKS_URL, else the top-pypi-packages list",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="where to keep the snapshot (default: BOMGUARD_DATA_DIR, else the user data directory)",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="seconds")
def refresh(url: str | None, data_dir: Path | None, timeout: float) -> None:
    """Download the PyPI download ranks that decide `critical.top` and `component.rank`."""
    from bomguard.criticality import DEFAULT_RANKS_URL
    from bomguard.criticality import refresh as do_refresh

    source = url or os.environ.get("BOMGUARD_RANKS_URL") or DEFAULT_RANKS_URL
    snapshot = do_refresh(source, data_dir, timeout=timeout)
    click.echo(
        f"download ranks: {len(snapshot.ranks)} projects from {snapshot.source} "
        f"({snapshot.date}, sha256 {snapshot.sha256}) written to {snapshot.location}",
        err=True,
    )
