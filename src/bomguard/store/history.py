"""Identity history: what a run records in the store, and what the ``store`` drift source
expects from it.

Every verified file's publisher identity is recorded (project, version, file, identity
record, SBOM, first and last seen). The next run of any SBOM naming the project expects the
identity seen most recently again: a repository, workflow, ref or signer change is caught
even when the SBOM at hand was never enriched before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bomguard.drift.compare import Expectation
from bomguard.identity_record import identity_from_record, identity_record, record_json
from bomguard.models import Component, ComponentEvidence, DriftSource, Status
from bomguard.store.interface import HistoryRow, SbomRow, Store, Tampered

__all__ = ["expectation_from_history", "history_rows", "registration_rows", "sbom_label"]


def sbom_label(document: Any, path: Path) -> str:
    """How the store names an SBOM: its file name, with its serial number or namespace."""
    data = getattr(document, "data", None)
    serial = None
    if isinstance(data, dict):
        found = data.get("serialNumber") or data.get("documentNamespace")
        serial = found if isinstance(found, str) and found else None
    return f"{path.name} ({serial})" if serial else path.name


def expectation_from_history(
    store: Store, project: str, tampered: Tampered | None = None
) -> Expectation | None:
    """The identity the fleet saw last for ``project``, or ``None`` without history.

    Only rows that authenticate under the store key count (others are dropped and
    reported): a planted history row never sets an expectation.
    """
    rows = store.history(project, tampered)
    if not rows:
        return None
    latest = max(rows, key=lambda r: (r.last_seen, r.version, r.filename, r.sbom))
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
    for component in components:
        found = evidence.get(component.locator)
        if found is None or component.pypi is None or component.pypi.version is None:
            continue
        for file in found.files:
            if file.status is not Status.VERIFIED or file.identity is None:
                continue
            record = record_json(identity_record(file.identity))
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
) -> dict[str, Expectation]:
    """The ``store`` expectation of every project that has history at ``location``."""
    from bomguard.store import shared_store

    store = shared_store(location)
    if store is None:
        return {}
    out = {}
    for project in sorted(set(projects)):
        found = expectation_from_history(store, project, tampered)
        if found is not None:
            out[project] = found
    return out


def record_run(
    location: str,
    components: Iterable[Component],
    evidence: Mapping[str, ComponentEvidence | None],
    sbom: str,
) -> None:
    """Record a run's verified identities and its SBOM registration, and commit them."""
    from bomguard.store import shared_store

    store = shared_store(location)
    if store is None:
        return
    components = list(components)
    now = time.time()
    store.record_history(history_rows(components, evidence, sbom, now))
    store.register(registration_rows(components, evidence, sbom, now))
    store.flush()
