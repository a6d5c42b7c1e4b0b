"""The policy as a value: rules with CEL expressions, references and waivers, as loaded.

A :class:`Policy` is immutable and hashable, so compiled programs can be cached per policy
(see :mod:`bomguard.policy.evaluation`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "MESSAGE_FIELDS",
    "SBOM_MESSAGE_FIELDS",
    "SBOM_SUBJECT",
    "Outcome",
    "Policy",
    "Reference",
    "Rule",
    "Scope",
    "Severity",
    "Waiver",
]

MESSAGE_FIELDS = ("name", "version", "purl", "status", "reason")
"""The placeholders a component-scope rule's ``message`` template may use, e.g. ``{name}``."""

SBOM_MESSAGE_FIELDS = ("components", "pypi", "verified", "coverage", "critical_coverage")
"""The placeholders an sbom-scope rule's ``message`` template may use, e.g. ``{coverage}``."""

SBOM_SUBJECT = "(sbom)"
"""How the subject of an sbom-scope rule is named in a verdict, where a component's purl goes."""


class Severity(StrEnum):
    """How much a violated rule matters. Only ``error`` fails the verdict."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Scope(StrEnum):
    """What a rule judges: each component, or the SBOM as a whole (once)."""

    COMPONENT = "component"
    SBOM = "sbom"


class Outcome(StrEnum):
    """What one rule said about one subject."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "not-applicable"
    """``when`` was false."""
    WAIVED = "waived"
    """``require`` was false, and an unexpired waiver covers the subject."""
    ERROR = "error"
    """An expression could not be evaluated; counts as a violation (fail closed)."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A document a policy answers to, e.g. a NIST SSDF practice."""

    id: str
    title: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: where ``when`` holds (or always, without it), ``require`` must hold."""

    id: str
    require: str
    """CEL expression that must evaluate to ``true``."""
    when: str | None = None
    """CEL expression; the rule applies only where it is ``true``."""
    description: str = ""
    severity: Severity = Severity.ERROR
    message: str | None = None
    """A template with ``{name}``-style placeholders (:data:`MESSAGE_FIELDS` or
    :data:`SBOM_MESSAGE_FIELDS`, by scope)."""
    scope: Scope = Scope.COMPONENT
    references: tuple[str, ...] = ()
    """Ids of the policy's ``metadata.references`` this rule gives evidence for."""


@dataclass(frozen=True, slots=True)
class Waiver:
    """An accepted exception: a failure of ``rule`` for matching subjects is recorded, not failed.

    A waiver of a component-scope rule names the components with ``purl`` or ``name``
    (exactly one; both take ``*``/``?``/``[…]`` glob patterns). A waiver of an sbom-scope
    rule names neither. It is valid through the whole of its ``expires`` day (UTC).
    """

    rule: str
    reason: str
    approver: str
    expires: dt.date
    purl: str | None = None
    """Compared with the component's purl, case-sensitively."""
    name: str | None = None
    """PEP 503-normalised; compared with the component's normalised name."""
    index: int = 0
    """The waiver's position in its policy's ``waivers`` list."""

    def expired(self, now: dt.datetime) -> bool:
        """Whether ``now`` (timezone-aware) is past the end of the ``expires`` day, UTC."""
        end = dt.datetime.combine(self.expires + dt.timedelta(days=1), dt.time(), dt.UTC)
        return now >= end

    def matches(self, purl: str, normalized_name: str, *, sbom: bool) -> bool:
        """Whether this waiver covers a subject (an sbom-scope subject when ``sbom``)."""
        if sbom:
            return self.purl is None and self.name is None
        if self.purl is not None:
            return bool(purl) and fnmatch.fnmatchcase(purl, self.purl)
        if self.name is not None:
            return fnmatch.fnmatchcase(normalized_name, self.name)
        return False

    @property
    def matcher(self) -> str:
        """How the waiver names its subjects, for messages: ``purl=…``, ``name=…`` or ``sbom``."""
        if self.purl is not None:
            return f"purl={self.purl}"
        if self.name is not None:
            return f"name={self.name}"
        return "sbom"


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, schema-checked and compiled policy document."""

    name: str
    rules: tuple[Rule, ...]
    critical: tuple[str, ...] = ()
    """PEP 503-normalised names of critical packages, sorted and without duplicates."""
    critical_top: int | None = None
    """``critical.top``: packages ranked this high or higher by downloads are critical."""
    description: str = ""
    path: str = ""
    """Where the policy was read from, as given (``builtin:…`` for the built-in one)."""
    sha256: str = ""
    """Hex SHA-256 of the policy file's bytes."""
    owner: str = ""
    references: tuple[Reference, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    """Waivers of rules of this policy or of another policy evaluated with it."""

    def is_critical(self, normalized_name: str, rank: int | None = None) -> bool:
        """Whether a (PEP 503-normalised) package name is critical: listed by name, or
        its download ``rank`` is within ``critical.top``."""
        if normalized_name in self.critical:
            return True
        return self.critical_top is not None and rank is not None and rank <= self.critical_top

    @property
    def where(self) -> str:
        """How problems name this policy: its path, else its name."""
        return self.path or self.name
