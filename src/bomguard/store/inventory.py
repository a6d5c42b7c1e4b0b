"""What ``bomguard inventory`` reports from the store, as rows of named columns.

- **contains**: which SBOMs name a project (and which version), with its status;
- **coverage**: per SBOM and for the whole fleet, how many PyPI components are verified;
- **drift**: every drift event seen, with the SBOMs it affected.

These rows are the store's registrations: a record of what runs saw, for people. They are
not evidence and carry no MAC (a verdict never depends on them); whoever can write the
database can edit them, as they could any report.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Sequence

from packaging.utils import canonicalize_name

from bomguard.store.interface import SbomRow

__all__ = ["VIEWS", "contains", "coverage", "drift", "render"]

Table = tuple[list[str], list[list[str]]]
"""Column names and rows."""

_DRIFT = "drift:"
_STATUSES = ("verified", "partial", "absent", "unknown", "invalid")


def contains(rows: Sequence[SbomRow], project: str | None, version: str | None) -> Table:
    """Every SBOM naming ``project`` (all projects when ``None``), at ``version`` if given."""
    name = canonicalize_name(project) if project else None
    out = [
        [r.sbom, r.project, r.version, r.status]
        for r in rows
        if not r.status.startswith(_DRIFT)
        and (name is None or r.project == name)
        and (version is None or r.version == version)
    ]
    return ["sbom", "project", "version", "status"], sorted(out)


def coverage(rows: Sequence[SbomRow]) -> Table:
    """Per SBOM, then for the fleet: components by status and the share verified."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_STATUSES, 0))
    for r in rows:
        if not r.status.startswith(_DRIFT) and r.status in _STATUSES:
            counts[r.sbom][r.status] += 1
    fleet = dict.fromkeys(_STATUSES, 0)
    table = []
    for sbom in sorted(counts):
        table.append(_coverage_row(sbom, counts[sbom]))
        for status, n in counts[sbom].items():
            fleet[status] += n
    if counts:
        table.append(_coverage_row("(fleet)", fleet))
    return ["sbom", "components", *_STATUSES, "coverage"], table


def _coverage_row(sbom: str, counts: dict[str, int]) -> list[str]:
    total = sum(counts.values())
    share = f"{100 * counts['verified'] / total:.1f}%" if total else "-"
    return [sbom, str(total), *(str(counts[s]) for s in _STATUSES), share]


def drift(rows: Sequence[SbomRow], project: str | None = None) -> Table:
    """Every drift event seen (project, version, source, kind, change) and its SBOMs."""
    name = canonicalize_name(project) if project else None
    affected: dict[tuple[str, str, str, str, str], set[str]] = defaultdict(set)
    for r in rows:
        if not r.status.startswith(_DRIFT) or (name is not None and r.project != name):
            continue
        _, source, kind = r.status.split(":", 2)
        affected[(r.project, r.version, source, kind, r.detail)].add(r.sbom)
    table = [[*event, " ".join(sorted(sboms))] for event, sboms in sorted(affected.items())]
    return ["project", "version", "source", "kind", "change", "sboms"], table


VIEWS = ("contains", "coverage", "drift")


def render(table: Table, fmt: str) -> str:
    """``table`` as an aligned text table, JSON (a list of objects) or CSV."""
    columns, rows = table
    if fmt == "json":
        return json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue()
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)
    ]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"
