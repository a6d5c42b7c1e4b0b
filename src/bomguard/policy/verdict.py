"""The verdict: pass or fail, the counts, the violations and the policies that judged."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bomguard.errors import InputError
from bomguard.models import Status
from bomguard.policy._schema import first_error, key_path
from bomguard.policy.model import Policy, Severity

__all__ = ["PolicyRef", "Verdict", "Violation", "tool_version", "validate_verdict"]

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def tool_version() -> str:
    """bomguard's installed version, or ``0.0.0+unknown`` when it is not installed."""
    try:
        return importlib.metadata.version("bomguard")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0+unknown"


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule that did not hold (or could not be evaluated) for one component."""

    rule: str
    policy: str
    severity: Severity
    component: str
    """The component's purl, else ``name@version``."""
    bom_ref: str | None
    message: str

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
            "component": self.component,
            "bom_ref": self.bom_ref,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Which policy judged: its name, where it came from and its file's SHA-256."""

    name: str
    path: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see ``verdict.schema.json``)."""
        return {"name": self.name, "path": self.path, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of evaluating policies over an SBOM's components.

    ``counts`` has every :class:`~bomguard.models.Status` value as a key (zeros included);
    each component is counted once. The verdict is ``fail`` exactly when at least one
    violation has severity ``error``.
    """

    verdict: Literal["pass", "fail"]
    counts: Mapping[str, int]
    violations: tuple[Violation, ...]
    """Sorted: errors first, then by policy, rule and component."""
    policies: tuple[PolicyRef, ...]

    @classmethod
    def build(
        cls,
        policies: Sequence[Policy],
        counts: Mapping[str, int],
        violations: Iterable[Violation],
    ) -> Verdict:
        """Sort the violations, complete the counts and decide pass or fail."""
        ordered = tuple(sorted(violations, key=Violation.sort_key))
        failed = any(v.severity is Severity.ERROR for v in ordered)
        return cls(
            verdict="fail" if failed else "pass",
            counts={s.value: int(counts.get(s.value, 0)) for s in Status},
            violations=ordered,
            policies=tuple(PolicyRef(p.name, p.path, p.sha256) for p in policies),
        )

    @property
    def passed(self) -> bool:
        """Whether the verdict is ``pass``."""
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        """Deterministic JSON-ready data that validates against ``verdict.schema.json``."""
        return {
            "verdict": self.verdict,
            "counts": {s.value: int(self.counts.get(s.value, 0)) for s in Status},
            "violations": [v.to_dict() for v in sorted(self.violations, key=Violation.sort_key)],
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
