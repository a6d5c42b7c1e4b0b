"""What a reviewed dependency change did to one package: the value ``diff`` and ``upgrades``
produce, what makes it worth a reviewer's look, and what CEL sees as ``component.change``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bomguard.drift import Expectation, assess
from bomguard.models import Component, ComponentEvidence, DriftEvent, DriftSource, Identity, Status
from bomguard.policy.facts import event_facts

__all__ = ["KINDS", "Change", "Side", "attestation_change", "change_facts", "compare_sides"]

#: Every change kind, in the order a report lists them.
KINDS = ("added", "upgraded", "downgraded", "removed", "unchanged")

_ATTESTED = (Status.VERIFIED, Status.PARTIAL)
_UNDETERMINED = (Status.UNKNOWN, Status.INVALID)


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a change: a version and what is known of its provenance.

    ``source`` says where ``status`` came from: ``recorded`` (an enriched base SBOM's
    properties, taken as they are), ``verified`` (fetched and verified now) or ``""``
    (not checked: an unchanged or removed package).
    """

    version: str
    status: Status | None = None
    reason: str = ""
    source: str = ""
    identity: Identity | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status.value if self.status is not None else None,
            "reason": self.reason,
            "source": self.source or None,
            "publisher": _publisher(self.identity),
        }


def _publisher(identity: Identity | None) -> dict[str, str] | None:
    if identity is None:
        return None
    keys = ("kind", "repository", "workflow", "environment", "ref", "trigger")
    out = {k: getattr(identity, k) for k in keys if getattr(identity, k)}
    if identity.runner_environment:
        out["runner"] = identity.runner_environment
    if identity.repository_id:
        out["repository_id"] = identity.repository_id
    if identity.san:
        out["signer"] = identity.san
    return out


@dataclass
class Change:
    """One package's change between the base and the new SBOM (or an upgrade candidate)."""

    name: str
    """The PEP 503 name."""
    display: str
    """The name as the SBOM writes it."""
    kind: str
    base: Side | None
    new: Side | None
    component: Component | None = None
    """The new SBOM's component (what the policy judges); ``None`` when removed."""
    evidence: ComponentEvidence | None = None
    """The new release's evidence, its drift being the events against the base."""
    attestation: str = ""
    compared: bool = False
    events: tuple[DriftEvent, ...] = ()
    unchecked: tuple[str, ...] = ()
    violations: list[dict[str, Any]] = field(default_factory=list)
    """Policy violations of this change's component (``rule``, ``severity``, ``message``)."""

    @property
    def judged(self) -> bool:
        """Whether the policy judges this change: a release the change brings in."""
        return self.kind in ("added", "upgraded", "downgraded") and self.component is not None

    def reasons(self) -> list[str]:
        """Why a reviewer should look at this change; empty when it is quiet."""
        found: list[str] = []
        new = self.new
        if self.kind == "downgraded":
            found.append("downgrade")
        if self.kind in ("added", "upgraded", "downgraded") and new is not None:
            if new.status is None or new.status is not Status.VERIFIED:
                status = new.status.value if new.status is not None else "unknown"
                if not (self.attestation == "none" and status in ("absent", "unsupported")):
                    found.append(f"provenance {status}")
            if self.attestation == "lost":
                found.append("attestation lost")
        for event in self.events:
            found.append(event.kind)
        for reason in self.unchecked:
            found.append(f"not compared: {reason}")
        for violation in self.violations:
            found.append(f"policy {violation['severity']}: {violation['rule']}")
        return list(dict.fromkeys(found))

    @property
    def risky(self) -> bool:
        return bool(self.reasons())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.display,
            "normalized_name": self.name,
            "change": self.kind,
            "from": self.base.version if self.base is not None else None,
            "to": self.new.version if self.new is not None else None,
            "base": self.base.to_dict() if self.base is not None else None,
            "new": self.new.to_dict() if self.new is not None else None,
            "attestation": self.attestation or None,
            "compared": self.compared,
            "events": [event_facts(e) for e in self.events],
            "unchecked": list(self.unchecked),
            "violations": self.violations,
            "review": self.reasons(),
        }


def attestation_change(base: Status | None, new: Status | None) -> str:
    """``kept``, ``gained``, ``lost``, ``none`` or ``unknown``; ``""`` when not compared."""
    if base is None or new is None:
        return ""
    if base in _UNDETERMINED or new in _UNDETERMINED:
        return "unknown"
    if base is Status.VERIFIED:
        return "kept" if new is Status.VERIFIED else "lost"
    if base is Status.PARTIAL:
        return "kept" if new in _ATTESTED else "lost"
    return "gained" if new in _ATTESTED else "none"


def compare_sides(
    base: Side,
    evidence: ComponentEvidence,
    since: str,
    pins: tuple[Expectation, ...] = (),
    *,
    version: str = "",
) -> tuple[ComponentEvidence, tuple[DriftEvent, ...], bool, tuple[str, ...]]:
    """The new release's identities against the base side's, with the drift comparison.

    Returns the evidence with its drift set, the events, whether the base was compared,
    and the expectations that could not be (each with its reason).
    """
    expectations: list[Expectation] = []
    unchecked: list[str] = []
    if base.status in _ATTESTED and base.identity is not None:
        expectations.append(Expectation(DriftSource.BASELINE, since, base.identity))
    elif base.status in (Status.ABSENT, Status.UNSUPPORTED):
        expectations.append(Expectation(DriftSource.BASELINE, since, None))
    else:
        status = base.status.value if base.status is not None else "not checked"
        unchecked.append(f"{DriftSource.BASELINE.value}:{since} ({status})")
    events, checked = assess(evidence, expectations, pins, version=version)
    compared = bool(expectations) and evidence.status not in _UNDETERMINED
    if evidence.status in _UNDETERMINED and expectations and expectations[0].identity is not None:
        unchecked.append(f"{version or 'the new release'} ({evidence.status.value})")
    updated = replace(
        evidence, drift=events, drift_checked=checked, drift_unchecked=tuple(unchecked)
    )
    return updated, events, compared, tuple(unchecked)


def change_facts(change: Change) -> dict[str, Any]:
    """``component.change`` for a change (see :mod:`bomguard.policy.vocabulary`)."""
    kinds = sorted({e.kind for e in change.events})
    base = change.base
    return {
        "kind": change.kind,
        "from": base.version if base is not None else "",
        "to": change.new.version if change.new is not None else "",
        "from_status": base.status.value if base is not None and base.status else "",
        "attestation": change.attestation,
        "compared": change.compared,
        "count": len(change.events),
        "kinds": kinds,
        "events": [event_facts(e) for e in change.events],
    }
