"""``bomguard diff BASE NEW``: what a change to the dependencies does to their provenance.

A pipeline of its own over the shared stages: read both SBOMs → pair their PyPI packages →
fetch and verify every release the change brings in (and every base release whose
identity was not recorded) → compare identities with the drift comparison → judge the
releases brought in with the policy.

The expectation for a package is the base SBOM's: when the base was enriched by bomguard,
the identity it recorded for the base version (taken as recorded; ``bomguard verify``
re-checks it); otherwise the base version is fetched and verified now.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.version import InvalidVersion, Version

from bomguard.drift import assess, identity_from_properties, load_pins
from bomguard.index import ReleaseRequest
from bomguard.models import Component, ComponentEvidence, Status
from bomguard.pipeline import EnrichOptions, Observer, evidence_for, fetch_and_verify, request_for
from bomguard.policy import (
    Policy,
    Verdict,
    component_label,
    default_policy,
    evaluate,
    load_policies,
    strict_policy,
)
from bomguard.review.changes import Change, Side, attestation_change, change_facts, compare_sides
from bomguard.sbom import read_sbom
from bomguard.verify import TrustRoot

__all__ = [
    "DiffResult",
    "diff",
    "judge",
    "load_policy_set",
    "pair",
    "recorded_side",
    "side_from_evidence",
]

P = "bomguard:provenance:"


@dataclass
class DiffResult:
    """Every package change, the verdict over the releases brought in, and what judged it."""

    base: str
    new: str
    changes: list[Change]
    verdict: Verdict
    policies: Sequence[Policy]
    trust_root: TrustRoot | None
    evaluated_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _pypi(components: Sequence[Component]) -> dict[str, dict[str, Component]]:
    """PyPI components by PEP 503 name, then by version (first occurrence wins)."""
    out: dict[str, dict[str, Component]] = {}
    for component in components:
        if component.pypi is None:
            continue
        version = component.pypi.version or ""
        out.setdefault(component.pypi.name, {}).setdefault(version, component)
    return out


def pair(
    base: Sequence[Component], new: Sequence[Component]
) -> list[tuple[str, Component | None, Component | None]]:
    """Pair the PyPI packages of two SBOMs: ``(name, base, new)`` per change.

    Equal versions are unchanged; a version only in the new SBOM is compared with the
    nearest lower version only in the base (else the lowest one: a downgrade), or, when
    every base version stays, with the nearest lower base version (so a second version
    added beside the first is still held to the package's identity); base versions
    nothing was compared with are removed. Sorted by name, then version.
    """
    before, after = _pypi(base), _pypi(new)
    pairs: list[tuple[str, Component | None, Component | None]] = []
    for name in sorted(set(before) | set(after)):
        old, cur = before.get(name, {}), after.get(name, {})
        for version in sorted(set(old) & set(cur), key=_version_key):
            pairs.append((name, old[version], cur[version]))
        gone = sorted(set(old) - set(cur), key=_version_key)
        used: set[str] = set()
        # A new version is held to a base version even when the old one stays too: adding
        # 1.1 beside 1.0 is an upgrade of the package, not a new package.
        bases = gone or sorted(old, key=_version_key)
        for version in sorted(set(cur) - set(old), key=_version_key):
            if not bases:
                pairs.append((name, None, cur[version]))
                continue
            lower = [g for g in bases if _version_key(g) < _version_key(version)]
            chosen = lower[-1] if lower else bases[0]
            used.add(chosen)
            pairs.append((name, old[chosen], cur[version]))
        pairs.extend((name, old[g], None) for g in gone if g not in used)
    return pairs


def _kind(base: Component | None, new: Component | None) -> str:
    if base is None:
        return "added"
    if new is None:
        return "removed"
    a = base.pypi.version if base.pypi else None
    b = new.pypi.version if new.pypi else None
    if a == b:
        return "unchanged"
    return "upgraded" if _version_key(b or "") > _version_key(a or "") else "downgraded"


def recorded_side(component: Component) -> Side | None:
    """The side an enriched SBOM recorded, when it recorded a usable status."""
    version = component.version or ""
    status = component.properties.get(P + "status")
    if status == Status.VERIFIED.value:
        identity = identity_from_properties(component.properties)
        return Side(version, Status.VERIFIED, "", "recorded", identity)
    if status == Status.ABSENT.value:
        return Side(version, Status.ABSENT, component.properties.get(P + "reason", ""), "recorded")
    return None


def side_from_evidence(version: str, evidence: ComponentEvidence) -> Side:
    """A side verified now."""
    return Side(version, evidence.status, evidence.reason, "verified", evidence.identity)


def judge(
    changes: Sequence[Change], policies: Sequence[Policy], now: datetime.datetime, engine: str
) -> Verdict:
    """The policy over the releases the changes bring in, each seeing its ``change``."""
    judged = [c for c in changes if c.judged]
    subjects = [(c.component, c.evidence) for c in judged if c.component is not None]
    facts = {c.component.locator: change_facts(c) for c in judged if c.component is not None}
    verdict = evaluate(policies, subjects, now=now, engine=engine, changes=facts)
    labels = {component_label(c.component): c for c in judged if c.component is not None}
    for violation in verdict.violations:
        change = labels.get(violation.component)
        if change is None:
            continue
        change.violations.append(
            {
                "rule": violation.rule,
                "severity": str(violation.severity),
                "message": violation.message,
            }
        )
    return verdict


def load_policy_set(options: EnrichOptions) -> list[Policy]:
    """The policies of ``options`` (the built-in default without any), plus strict's rule."""
    policies = list(load_policies(options.policies)) if options.policies else [default_policy()]
    if options.strict:
        policies.append(strict_policy())
    return policies


def diff(
    base_path: Path,
    new_path: Path,
    options: EnrichOptions | None = None,
    *,
    base_format: str | None = None,
    observer: Observer | None = None,
) -> DiffResult:
    """Compare the PyPI packages of two SBOMs and judge what the change brings in.

    ``options.input_format`` is the new SBOM's format, ``base_format`` the base's (both
    detected from the content by default). Raises like :func:`bomguard.pipeline.enrich`.
    """
    options = options or EnrichOptions()
    policies = load_policy_set(options)
    pins = load_pins(options.pins) if options.pins else {}
    base_components = read_sbom(base_path, base_format).components()
    new_components = read_sbom(new_path, options.input_format).components()
    pairs = pair(base_components, new_components)

    changes: list[Change] = []
    wanted: list[ReleaseRequest] = []
    pending: dict[int, tuple[ReleaseRequest | ComponentEvidence | None, ...]] = {}
    for position, (name, old, cur) in enumerate(pairs):
        kind = _kind(old, cur)
        either = cur or old
        ref = either.pypi if either is not None else None
        display = ref.raw_name if ref is not None else name
        base_side = new_side = None
        if old is not None:
            base_side = recorded_side(old) or Side(old.version or "")
        if cur is not None:
            new_side = Side(cur.version or "")
        changes.append(Change(name, display, kind, base_side, new_side, component=cur))
        if kind in ("unchanged", "removed"):
            continue
        assert cur is not None
        new_request = request_for(cur, options)
        base_request = (
            request_for(old, options)
            if old is not None and base_side is not None and not base_side.source
            else None
        )
        for request in (new_request, base_request):
            if isinstance(request, ReleaseRequest):
                wanted.append(request)
        pending[position] = (new_request, base_request)

    fetched, verdicts, trust_root = fetch_and_verify(wanted, options, observer)

    def evidence(request: ReleaseRequest | ComponentEvidence | None) -> ComponentEvidence:
        if isinstance(request, ReleaseRequest):
            return evidence_for(fetched[request], verdicts)
        return request or ComponentEvidence(Status.UNKNOWN, "not a PyPI release")

    for position, (new_request, base_request) in pending.items():
        change = changes[position]
        new_evidence = evidence(new_request)
        if change.base is not None and not change.base.source:
            base_evidence = evidence(base_request)
            change.base = side_from_evidence(change.base.version, base_evidence)
        assert change.new is not None
        change.new = side_from_evidence(change.new.version, new_evidence)
        if change.base is None:
            events, checked = assess(
                new_evidence, (), tuple(pins.get(change.name, ())), version=change.new.version
            )
            change.evidence = replace(new_evidence, drift=events, drift_checked=checked)
            change.events = events
            continue
        since = f"{base_path.name}: {change.base.version}"
        change.evidence, change.events, change.compared, change.unchecked = compare_sides(
            change.base,
            new_evidence,
            since,
            tuple(pins.get(change.name, ())),
            version=change.new.version,
        )
        change.attestation = attestation_change(change.base.status, change.new.status)

    moment = options.now or datetime.datetime.now(datetime.UTC)
    verdict = judge(changes, policies, moment, options.cel_engine)
    return DiffResult(str(base_path), str(new_path), changes, verdict, policies, trust_root, moment)
