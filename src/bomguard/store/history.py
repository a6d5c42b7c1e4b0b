"""Identity history: what a run records in the store, and what the ``store`` drift source
expects from it.

Every verified file's publisher identity is recorded (project, version, file, identity
record, SBOM, first and last seen). The next run of any SBOM naming the project expects the
identity seen most recently again: a repository, workflow, ref or signer change is caught
even when the SBOM at hand was never enriched before.

Whoever writes the database without the store key cannot plant or edit a row (each is
MAC'd), but can delete rows. So that deleting a project's history cannot silently remove
its expectation, each project also has a **head** (the latest identity, a MAC'd entry the
expectation is taken from even when the rows are gone) and the store a **manifest** (a
MAC'd entry listing every project with a head). A head missing for a listed project, or a
manifest missing while history exists, is reported as tampering and the ``store`` source
of those projects becomes *unchecked* (``strict`` fails); it is never read as "no history".
A run that sees the identity a head already names leaves the head as it is (the rows' last
seen still advances). What stays possible without the key: replacing the whole history with
an older authentic copy (a restored backup), or emptying the store entirely, which looks
like a new store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bomguard.drift.compare import Expectation
from bomguard.identity_record import identity_from_record, identity_key, record_json
from bomguard.models import Component, ComponentEvidence, DriftSource, Status
from bomguard.store.interface import HistoryRow, SbomRow, Store, Tampered

__all__ = [
    "build_heads",
    "expectation_from_history",
    "history_rows",
    "registration_rows",
    "sbom_label",
]

HEAD = "history-head"
"""Entry kind of a project's history head (keyed by project)."""
MANIFEST = ("history-manifest", "projects")
"""Entry kind and key of the manifest: the projects that have a head."""


def sbom_label(document: Any, path: Path) -> str:
    """How the store names an SBOM: its file name, with its serial number or namespace."""
    data = getattr(document, "data", None)
    serial = None
    if isinstance(data, dict):
        found = data.get("serialNumber") or data.get("documentNamespace")
        serial = found if isinstance(found, str) and found else None
    return f"{path.name} ({serial})" if serial else path.name


def _latest(rows: Iterable[HistoryRow]) -> HistoryRow:
    return max(rows, key=lambda r: (r.last_seen, r.version, r.filename, r.sbom))


def _head_fields(row: HistoryRow) -> dict[str, object]:
    # ``seen``: when the head was last written, i.e. when the fleet last saw an identity
    # other than the one before (a run seeing the head's identity again leaves it as it
    # is). When each identity was last seen is the rows' ``last_seen``.
    return {
        "version": row.version,
        "filename": row.filename,
        "record": row.record,
        "sbom": row.sbom,
        "seen": row.last_seen,
    }


def _head_what(project: str) -> str:
    return f"the stored identity history head of {project}"


def _read_head(store: Store, project: str, tampered: Tampered | None) -> HistoryRow | None:
    found = store.get(HEAD, project, _head_what(project), tampered, again="written")
    return None if found is None else _head_from(project, found[0])


def _read_heads(
    store: Store, projects: Iterable[str], tampered: Tampered | None
) -> dict[str, HistoryRow]:
    """The authentic heads of ``projects`` (in one read), by project.

    Remembered by the store until the run is recorded: a head still the same when the
    run records is not checked twice.
    """
    wanted = sorted(set(projects))
    found = store.get_many(HEAD, wanted, _head_what, tampered, again="written", remember=True)
    heads = {}
    for project, (fields, _body) in found.items():
        head = _head_from(project, fields)
        if head is not None:
            heads[project] = head
    return heads


def _head_from(project: str, fields: Mapping[str, object]) -> HistoryRow | None:
    try:
        version, filename = str(fields["version"]), str(fields["filename"])
        record, sbom, seen = str(fields["record"]), str(fields["sbom"]), fields["seen"]
    except KeyError:
        return None
    if not isinstance(seen, (int, float)):
        return None
    return HistoryRow(project, version, filename, record, sbom, float(seen), float(seen))


def _read_manifest(store: Store, tampered: Tampered | None) -> set[str] | None:
    found = store.get(*MANIFEST, "the stored history manifest", tampered, again="written")
    if found is None:
        return None
    projects = found[0].get("projects")
    if not isinstance(projects, list):
        return None
    return {p for p in projects if isinstance(p, str)}


def _identity(row: HistoryRow) -> tuple[str, str, str, str]:
    """What a head says, but for when: version, file, identity record and SBOM."""
    return row.version, row.filename, row.record, row.sbom


def _put_heads(
    store: Store,
    rows: Iterable[HistoryRow],
    known: set[str] | None,
    current: Mapping[str, HistoryRow] | None = None,
) -> None:
    """Queue a head per project of ``rows`` (its latest row), then the manifest.

    A project whose authentic head (in ``current``) already says the same is left as it
    is. Queued after the rows themselves, so a head never names a row not yet written.
    """
    latest: dict[str, HistoryRow] = {}
    for row in rows:
        if row.project not in latest or _latest((latest[row.project], row)) is row:
            latest[row.project] = row
    for project, row in latest.items():
        head = current.get(project) if current is not None else None
        if head is None or _identity(head) != _identity(row):
            store.put(HEAD, project, _head_fields(row), None)
    listed = set(known or ()) | set(latest)
    if latest and listed != known:
        store.put(*MANIFEST, {"projects": sorted(listed)}, None)


def build_heads(store: Store) -> None:
    """Give a store migrated from before heads existed a head per project and a manifest,
    from its authentic rows (a row that does not authenticate is dropped, unreported)."""
    projects = {row.project for row in store.history_rows()}
    rows = [row for project in sorted(projects) for row in store.history(project)]
    _put_heads(store, rows, _read_manifest(store, None))
    store.flush()


def expectation_from_history(
    store: Store,
    project: str,
    tampered: Tampered | None = None,
    listed: bool = False,
) -> Expectation | str | None:
    """The identity the fleet saw last for ``project``; ``None`` without history; a reason
    (an *unchecked* source) when its history was removed.

    Only rows and heads that authenticate under the store key count (others are dropped
    and reported): a planted row never sets an expectation. ``listed`` says the manifest
    names the project (or cannot be trusted to say it does not).
    """
    rows = store.history(project, tampered)
    head = _read_head(store, project, tampered)
    return _expectation(project, rows, head, tampered, listed)


def _expectation(
    project: str,
    rows: list[HistoryRow],
    head: HistoryRow | None,
    tampered: Tampered | None,
    listed: bool,
) -> Expectation | str | None:
    """:func:`expectation_from_history` from the project's authentic rows and head."""
    if head is None and listed:
        # Without the head, the rows left may not include the latest: say so; compare
        # with them when some remain (each is authentic), else the source is unchecked.
        if tampered is not None:
            tampered(
                f"the stored identity history of {project} has lost its head (it was "
                "removed from the store)"
                + ("" if rows else "; its store drift expectation cannot be checked")
            )
        if not rows:
            return f"{DriftSource.STORE.value} (the identity history of {project} was removed)"
    target = _identity(head) if head is not None else None
    named = target is not None and any(_identity(r) == target for r in rows)
    if head is not None and not named and tampered is not None:
        tampered(
            f"the stored identity history of {project} {head.version} ({head.filename}) "
            "was removed from the store; its history head still says what was expected"
        )
    # The head, when there is one: a row's first and last seen are not MAC'd, so the
    # rows' own order is used only for a project without a head.
    if head is None and not rows:
        return None
    latest = head if head is not None else _latest(rows)
    try:
        record = json.loads(latest.record)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    since = f"{latest.version} in {latest.sbom}"
    return Expectation(DriftSource.STORE, since, identity_from_record(record))


def history_rows(
    components: Iterable[Component],
    evidence: Mapping[str, ComponentEvidence | None],
    sbom: str,
    now: float | None = None,
) -> list[HistoryRow]:
    """One row per verified file of every PyPI component."""
    moment = time.time() if now is None else now
    rows = []
    # The files of a release are usually signed by one identity: each distinct one is
    # serialised once.
    records: dict[tuple[tuple[str, str], ...], str] = {}
    for component in components:
        found = evidence.get(component.locator)
        if found is None or component.pypi is None or component.pypi.version is None:
            continue
        for file in found.files:
            if file.status is not Status.VERIFIED or file.identity is None:
                continue
            key = identity_key(file.identity)
            record = records.get(key)
            if record is None:
                record = records[key] = record_json(dict(key))
            rows.append(
                HistoryRow(
                    component.pypi.name,
                    component.pypi.version,
                    file.filename,
                    record,
                    sbom,
                    moment,
                    moment,
                )
            )
    return rows


def registration_rows(
    components: Iterable[Component],
    evidence: Mapping[str, ComponentEvidence | None],
    sbom: str,
    now: float | None = None,
) -> list[SbomRow]:
    """Which projects and versions the SBOM names, with their status, and its drift events."""
    moment = time.time() if now is None else now
    rows = []
    for component in components:
        found = evidence.get(component.locator)
        if found is None or component.pypi is None:
            continue
        name, version = component.pypi.name, component.pypi.version or ""
        rows.append(SbomRow(sbom, name, version, found.status.value, found.reason, moment))
        for event in found.drift:
            rows.append(
                SbomRow(
                    sbom,
                    name,
                    version,
                    f"drift:{event.source.value}:{event.kind}",
                    f"{event.before} -> {event.after} (since {event.since})",
                    moment,
                )
            )
    return rows


def history_expectations(
    location: str, projects: Iterable[str], tampered: Tampered | None = None
) -> dict[str, Expectation | str]:
    """The ``store`` expectation of every project that has history at ``location``, or the
    reason it cannot be checked."""
    from bomguard.store import shared_store

    store = shared_store(location)
    if store is None:
        return {}
    manifest = _read_manifest(store, tampered)
    unlisted_history = manifest is None and bool(store.history_rows())
    if unlisted_history and tampered is not None:
        tampered(
            "the stored identity history manifest was removed while history remains; "
            "the store drift expectation of a project without a history head cannot be checked"
        )
    wanted = sorted(set(projects))
    # Every project's rows, then every head, each in a few queries (not two per project).
    rows = store.history_many(wanted, tampered, remember=True)
    heads = _read_heads(store, wanted, tampered)
    out: dict[str, Expectation | str] = {}
    for project in wanted:
        listed = unlisted_history or (manifest is not None and project in manifest)
        found = _expectation(project, rows.get(project, []), heads.get(project), tampered, listed)
        if found is not None:
            out[project] = found
    return out


def record_run(
    location: str,
    components: Iterable[Component],
    evidence: Mapping[str, ComponentEvidence | None],
    sbom: str,
) -> str | None:
    """Record a run's verified identities and its SBOM registration, and commit them.

    Returns a sentence when the store could not commit them (nothing else tells).
    """
    from bomguard.store import shared_store

    store = shared_store(location)
    if store is None:
        return None
    components = list(components)
    now = time.time()
    rows = history_rows(components, evidence, sbom, now)
    store.record_history(rows)
    # Heads read now (not when the run began): another run may have changed one since.
    current = _read_heads(store, {row.project for row in rows}, None)
    _put_heads(store, rows, _read_manifest(store, None), current)
    store.register(registration_rows(components, evidence, sbom, now))
    store.forget()
    store.flush()
    problem = store.write_problem()
    if problem is None:
        return None
    return (
        f"{store.label}: this run was not fully recorded ({problem}); the fleet's "
        "identity history and inventory may lack it"
    )
