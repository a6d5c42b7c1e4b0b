"""``bomguard upgrades SBOM``: the releases newer than those in use, vetted before anyone
takes them.

A pipeline of its own over the shared stages: read the SBOM → fetch each PyPI package's
release in use (its project page lists every version) → follow to the newer releases
(pre-releases with ``pre``; the ``max_per_project`` newest) → verify them all → compare
each candidate's identities with the release in use → judge each candidate with the
policy, as an ``upgraded`` change.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.version import InvalidVersion, Version

from bomguard.index import ReleaseFetch, ReleaseRequest
from bomguard.models import Component
from bomguard.pipeline import EnrichOptions, Observer, evidence_for, fetch_and_verify, request_for
from bomguard.policy import Policy, Verdict
from bomguard.review.changes import Change, attestation_change, compare_sides
from bomguard.review.diff import judge, load_policy_set, recorded_side, side_from_evidence
from bomguard.sbom import read_sbom
from bomguard.verify import TrustRoot

__all__ = ["UpgradesResult", "candidates", "upgrades"]


@dataclass
class UpgradesResult:
    """Every upgrade candidate as a change, what could not be checked, and the verdict."""

    sbom: str
    changes: list[Change]
    unchecked: list[tuple[str, str]]
    """``(package==version, why)`` for each package whose newer releases are not known."""
    verdict: Verdict
    policies: Sequence[Policy]
    trust_root: TrustRoot | None
    evaluated_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )


def candidates(current: str, versions: Sequence[str], *, pre: bool, limit: int) -> list[str]:
    """The versions newer than ``current`` worth vetting: the ``limit`` newest, oldest first.

    Pre-releases (and dev releases) only with ``pre``. Versions that do not parse are skipped.
    """
    try:
        now = Version(current)
    except InvalidVersion:
        return []
    newer: list[Version] = []
    for text in versions:
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version > now and (pre or not version.is_prerelease):
            newer.append(version)
    newer.sort()
    return [str(v) for v in newer[-limit:]] if limit > 0 else []


def _candidate(component: Component, version: str) -> Component:
    """The component as it would be after the upgrade (what the policy judges)."""
    assert component.pypi is not None
    purl = f"pkg:pypi/{component.pypi.raw_name}@{version}"
    return replace(
        component,
        locator=f"{component.locator}#upgrade={version}",
        bom_ref=None,
        version=version,
        purl=purl,
        hashes={},
        dist_refs=(),
        properties={},
        pypi=replace(component.pypi, version=version, raw_version=version),
    )


def upgrades(
    sbom: Path,
    options: EnrichOptions | None = None,
    *,
    pre: bool = False,
    max_per_project: int = 3,
    observer: Observer | None = None,
) -> UpgradesResult:
    """Vet the releases newer than each PyPI component's, and judge them with the policy."""
    options = options or EnrichOptions()
    policies = load_policy_set(options)
    components = read_sbom(sbom, options.input_format).components()
    in_use: dict[str, tuple[Component, ReleaseRequest]] = {}
    unchecked: list[tuple[str, str]] = []
    for component in components:
        if component.pypi is None or component.pypi.name in in_use:
            continue
        request = request_for(component, options)
        label = f"{component.pypi.raw_name}=={component.version or '?'}"
        if isinstance(request, ReleaseRequest):
            in_use[component.pypi.name] = (component, request)
        elif request is not None:
            unchecked.append((label, request.reason))
    main = {request for _, request in in_use.values()}

    def follow(fetch: ReleaseFetch) -> list[ReleaseRequest]:
        if fetch.request not in main:
            return []
        wanted = candidates(fetch.request.version, fetch.versions, pre=pre, limit=max_per_project)
        return [
            ReleaseRequest(fetch.request.project, v, frozenset(), fetch.request.index_url)
            for v in wanted
        ]

    fetched, verdicts, trust_root = fetch_and_verify(list(main), options, observer, follow)
    changes: list[Change] = []
    for name, (component, request) in in_use.items():
        fetch = fetched[request]
        assert component.pypi is not None
        display = component.pypi.raw_name
        if fetch.error is not None and not fetch.versions:
            unchecked.append((f"{display}=={request.version}", fetch.error))
            continue
        current = component.version or request.version
        base = recorded_side(component) or side_from_evidence(
            current, evidence_for(fetch, verdicts)
        )
        for version in follow(fetch):
            evidence = evidence_for(fetched[version], verdicts)
            change = Change(
                name,
                display,
                "upgraded",
                base,
                side_from_evidence(version.version, evidence),
                component=_candidate(component, version.version),
            )
            since = f"{current} in use"
            change.evidence, change.events, change.compared, change.unchecked = compare_sides(
                base, evidence, since, version=version.version
            )
            change.attestation = attestation_change(base.status, evidence.status)
            changes.append(change)
    moment = options.now or datetime.datetime.now(datetime.UTC)
    verdict = judge(changes, policies, moment, options.cel_engine)
    return UpgradesResult(str(sbom), changes, unchecked, verdict, policies, trust_root, moment)
