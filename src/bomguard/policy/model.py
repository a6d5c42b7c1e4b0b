"""The policy as a value: rules with CEL expressions, as loaded and checked.

A :class:`Policy` is immutable and hashable, so compiled programs can be cached per policy
(see :mod:`bomguard.policy.engine`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MESSAGE_FIELDS", "Policy", "Rule", "Severity"]

MESSAGE_FIELDS = ("name", "version", "purl", "status", "reason")
"""The placeholders a rule's ``message`` template may use, e.g. ``{name}``."""


class Severity(StrEnum):
    """How much a violated rule matters. Only ``error`` fails the verdict."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: where ``when`` holds (or always, without it), ``require`` must hold."""

    id: str
    require: str
    """CEL expression over ``component`` that must evaluate to ``true``."""
    when: str | None = None
    """CEL expression over ``component``; the rule applies only where it is ``true``."""
    description: str = ""
    severity: Severity = Severity.ERROR
    message: str | None = None
    """A template with ``{name}``-style placeholders (see :data:`MESSAGE_FIELDS`)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, schema-checked and compiled policy document."""

    name: str
    rules: tuple[Rule, ...]
    critical: tuple[str, ...] = ()
    """PEP 503-normalised names of critical packages, sorted and without duplicates."""
    description: str = ""
    path: str = ""
    """Where the policy was read from, as given (``builtin:…`` for the built-in one)."""
    sha256: str = ""
    """Hex SHA-256 of the policy file's bytes."""

    def is_critical(self, normalized_name: str) -> bool:
        """Whether a (PEP 503-normalised) package name is in this policy's critical list."""
        return normalized_name in self.critical
