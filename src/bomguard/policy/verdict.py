"""The verdict: pass or fail, every rule's outcome, the waivers, and the policies that judged.

The document is deterministic: the same policies over the same components at the same
``now`` give the same bytes (every list is sorted; the CLI writes keys sorted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from bomguard._version import __version__
from bomguard.errors import InputError
from bomguard.models import Status
from bomguard.policy._schema import first_error, key_path
from bomguard.policy.model import Outcome, Policy, Rule, Severity, Waiver

__all__ = [
    "Finding",
    "PolicyRef",
    "Result",
    "Verdict",
    "Violation",
    "Waived",
    "WaiverUse",
    "tool_version",
    "validate_verdict",
]

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def tool_version() -> str:
    """bomguard's version (from its one source, ``bomguard._version``)."""
    return __version__


class Finding(NamedTuple):
    """What one rule said about one subject (a component, or the SBOM), as evaluated.

    A named tuple: evaluation makes one per rule and subject (100,000 for 10 rules over
    10,000 components), and a tuple is the cheapest record Python builds.
    """

    rule: Rule
    policy: str
    component: str
    """The component's purl, else ``name@version``; ``(sbom)`` for an sbom-scope rule."""
    bom_ref: str | None
    outcome: Outcome
    message: str
    """Why it failed (or errored); ``""`` for pass and not-applicable."""
    waiver: tuple[Policy, Waiver] | None = None
    """For ``waived``: the waiver and the policy that declares it."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule that did not hold (``fail``) or could not be evaluated (``error``)."""

    rule: str
    policy: str
    severity: Severity
    component: str
    """The component's purl, else ``name@version``; ``(sbom)`` for an sbom-scope rule."""
    bom_ref: str | None
    message: str
    outcome: Outcome = Outcome.FAIL

    def sort_key(self) -> tuple[int, str, str, str, str, str]:
        """Errors first, then by policy, rule, component, bom-ref and message."""
        return (
            _SEVERITY_ORDER[self.severity],
            self.policy,
            self.rule,
            self.component,
            self.bom_ref or "",
            self.message,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see ``verdict.schema.json``)."""
        return {
            "rule": self.rule,
            "policy": self.policy,
            "severity": self.severity.value,
            "outcome": self.outcome.value,
            "component": self.component,
            "bom_ref": self.bom_ref,
            "message": self.message,
        }


def _waiver_dict(policy: str, waiver: Waiver) -> dict[str, Any]:
    return {
        "policy": policy,
        "index": waiver.index,
        "rule": waiver.rule,
        "purl": waiver.purl,
        "name": waiver.name,
        "reason": waiver.reason,
        "approver": waiver.approver,
        "expires": waiver.expires.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class Waived:
    """A failure an unexpired waiver covers: recorded, not failing the verdict."""

    violation: Violation
    waiver_policy: str
    waiver: Waiver

    def sort_key(self) -> tuple[int, str, str, str, str, str, str, int]:
        """As violations, then by the waiver."""
        return (*self.violation.sort_key(), self.waiver_policy, self.waiver.index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see ``verdict.schema.json``)."""
        data = self.violation.to_dict()
        del data["outcome"]
        data["waiver"] = _waiver_dict(self.waiver_policy, self.waiver)
        return data


@dataclass(frozen=True, slots=True)
class WaiverUse:
    """A declared waiver and what became of it at evaluation time."""

    policy: str
    waiver: Waiver
    state: Literal["applied", "unused", "expired"]
    """``expired`` waivers are ignored: what they cover fails as if they were absent."""
    matched: int
    """How many failures it covers (for an expired waiver: would have covered)."""

    def sort_key(self) -> tuple[str, int]:
        """By policy, then position in the policy."""
        return (self.policy, self.waiver.index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see ``verdict.schema.json``)."""
        return {
            **_waiver_dict(self.policy, self.waiver),
            "state": self.state,
            "matched": self.matched,
        }


class Result(NamedTuple):
    """One rule's outcome for one subject (a named tuple, so results sort as tuples:
    by rule, component and outcome)."""

    rule: str
    component: str
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see ``verdict.schema.json``)."""
        return {"rule": self.rule, "component": self.component, "outcome": self.outcome.value}


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Which policy judged: its metadata, where it came from, its SHA-256 and its rules."""

    name: str
    path: str
    sha256: str
    description: str = ""
    owner: str = ""
    references: tuple[tuple[str, str, str], ...] = ()
    """``(id, title, url)`` of each of the policy's references."""
    rules: tuple[Rule, ...] = ()

    @classmethod
    def of(cls, policy: Policy) -> PolicyRef:
        """The reference to a loaded policy."""
        return cls(
            policy.name,
            policy.path,
            policy.sha256,
            policy.description,
            policy.owner,
            tuple((r.id, r.title, r.url) for r in policy.references),
            policy.rules,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see ``verdict.schema.json``)."""
        return {
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "description": self.description,
            "owner": self.owner,
            "references": [{"id": i, "title": t, "url": u} for i, t, u in self.references],
            "rules": [
                {
                    "id": rule.id,
                    "scope": rule.scope.value,
                    "severity": rule.severity.value,
                    "description": rule.description,
                    "references": list(rule.references),
                }
                for rule in self.rules
            ],
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of evaluating policies over an SBOM's components.

    ``counts`` has every :class:`~bomguard.models.Status` value as a key (zeros included);
    each component is counted once. The verdict is ``fail`` exactly when at least one
    violation (an unwaived ``fail``, or an ``error``) has severity ``error``.
    """

    verdict: Literal["pass", "fail"]
    counts: Mapping[str, int]
    violations: tuple[Violation, ...]
    """Sorted: errors first, then by policy, rule and component."""
    policies: tuple[PolicyRef, ...]
    waived: tuple[Waived, ...] = ()
    """Failures covered by an unexpired waiver, sorted like violations."""
    waivers: tuple[WaiverUse, ...] = ()
    """Every declared waiver, by policy and position."""
    results: tuple[Result, ...] = ()
    """Every rule's outcome for every subject, sorted by rule, component and outcome."""

    @classmethod
    def build(
        cls,
        policies: Sequence[Policy],
        counts: Mapping[str, int],
        findings: Iterable[Finding],
        waivers: Iterable[WaiverUse] = (),
        results: Iterable[Result] = (),
    ) -> Verdict:
        """Sort everything, complete the counts and decide pass or fail.

        ``results`` are outcomes given without a finding (passes and not-applicable ones,
        which say nothing more); each finding adds its own.
        """
        violations = []
        waived = []
        results = list(results)
        failing = (Outcome.FAIL, Outcome.ERROR, Outcome.WAIVED)
        for f in findings:
            results.append(Result(f.rule.id, f.component, f.outcome))
            if f.outcome not in failing:
                continue
            violation = Violation(
                rule=f.rule.id,
                policy=f.policy,
                severity=f.rule.severity,
                component=f.component,
                bom_ref=f.bom_ref,
                message=f.message,
                outcome=Outcome.FAIL if f.outcome is Outcome.WAIVED else f.outcome,
            )
            if f.waiver is not None:
                waived.append(Waived(violation, f.waiver[0].name, f.waiver[1]))
            else:
                violations.append(violation)
        ordered = tuple(sorted(violations, key=Violation.sort_key))
        failed = any(v.severity is Severity.ERROR for v in ordered)
        return cls(
            verdict="fail" if failed else "pass",
            counts={s.value: int(counts.get(s.value, 0)) for s in Status},
            violations=ordered,
            policies=tuple(PolicyRef.of(p) for p in policies),
            waived=tuple(sorted(waived, key=Waived.sort_key)),
            waivers=tuple(sorted(waivers, key=WaiverUse.sort_key)),
            # Outcome is a StrEnum: the tuples sort by rule, component and outcome value.
            results=tuple(sorted(results)),
        )

    @property
    def passed(self) -> bool:
        """Whether the verdict is ``pass``."""
        return self.verdict == "pass"

    @property
    def expired_waivers(self) -> tuple[WaiverUse, ...]:
        """The waivers that were ignored because they have expired."""
        return tuple(w for w in self.waivers if w.state == "expired")

    def to_dict(self) -> dict[str, Any]:
        """Deterministic JSON-ready data that validates against ``verdict.schema.json``."""
        return {
            "verdict": self.verdict,
            "counts": {s.value: int(self.counts.get(s.value, 0)) for s in Status},
            "violations": [v.to_dict() for v in sorted(self.violations, key=Violation.sort_key)],
            "waived": [w.to_dict() for w in sorted(self.waived, key=Waived.sort_key)],
            "waivers": [w.to_dict() for w in sorted(self.waivers, key=WaiverUse.sort_key)],
            "results": [r.to_dict() for r in self.results],
            "policies": [p.to_dict() for p in self.policies],
            "tool": {"name": "bomguard", "version": tool_version()},
        }


def validate_verdict(data: Mapping[str, Any]) -> None:
    """Check verdict data against the packaged ``verdict.schema.json``.

    Raises :class:`InputError` naming the key path of the first problem found.
    """
    error = first_error("verdict", data)
    if error is not None:
        where = key_path(error.absolute_path) or "(document)"
        raise InputError(f"verdict: {where}: {error.message}") from error
