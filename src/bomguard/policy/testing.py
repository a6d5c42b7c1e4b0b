"""Policy test cases: facts in, expected rule outcomes out (``bomguard policy test``).

A policy ``x.yaml`` ships its cases beside it as ``x.tests.yaml``::

    apiVersion: bomguard/v1
    kind: PolicyTests
    policies: [x.yaml]              # optional: default the policy beside this file
    now: "2026-01-01T00:00:00Z"     # optional: `now` in CEL, and for waiver expiry
    cases:
      - name: an absent critical dependency fails
        component:                  # facts, over a blank component
          name: cryptography
          purl: pkg:pypi/cryptography@42.0.0
          provenance: {status: absent}
        sbom: {}                    # optional: over the aggregates of that one component
        expect:
          critical-attested: fail
          no-invalid: pass

Facts are checked against the declared types: an unknown key or a wrong type is an input
error naming its key path. Keys a case leaves out take their blank value (``""``,
``false``, ``0``, ``[]``), except these, derived like the real facts are: ``name`` and
``version`` from ``purl`` (``name`` is ``example`` without either); ``normalized_name``
from ``name``; ``pypi`` from a ``pkg:pypi/`` purl; ``provenance.status``
``unknown`` for a PyPI component, else ``not-applicable``; ``provenance.verified_files``
and ``total_files`` from ``files``; ``critical`` from the policy's ``critical`` list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bomguard._jsonschema import load as _load_jsonschema

if TYPE_CHECKING:
    import jsonschema

import copy
import datetime as dt
import difflib
import functools
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from bomguard.errors import InputError
from bomguard.models import Status
from bomguard.policy.cel_engines import Engine
from bomguard.policy.evaluation import Subject, WaiverBook, judge_policy, utc
from bomguard.policy.facts import facts_label, sbom_facts
from bomguard.policy.loader import (
    Document,
    check_policies,
    locate,
    parse_yaml,
    schema_problems,
)
from bomguard.policy.model import Outcome, Policy
from bomguard.policy.problems import PolicyProblems, Problem
from bomguard.policy.vocabulary import COMPONENT, SBOM, CelType

__all__ = [
    "TESTS_SCHEMA",
    "CaseFailure",
    "PolicyTestReport",
    "policy_tests_path",
    "run_policy_tests",
]

TESTS_SUFFIX = ".tests.yaml"

TESTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "bomguard policy tests",
    "description": (
        "Test cases for bomguard policies: facts in, expected rule outcomes out. "
        "Run with `bomguard policy test`."
    ),
    "type": "object",
    "required": ["apiVersion", "kind", "cases"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "bomguard/v1"},
        "kind": {"const": "PolicyTests"},
        "policies": {
            "description": (
                "Policy files evaluated together, relative to this file. "
                "Default: the policy beside this file (x.tests.yaml tests x.yaml)."
            ),
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
        },
        "now": {
            "description": "The evaluation time, RFC 3339 (default: the current time).",
            "type": "string",
            "minLength": 1,
        },
        "cases": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/case"}},
    },
    "$defs": {
        "case": {
            "type": "object",
            "required": ["name", "expect"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "component": {
                    "description": "Component facts (see `bomguard policy explain`).",
                    "type": "object",
                },
                "sbom": {
                    "description": "Overrides of the sbom facts (see `bomguard policy explain`).",
                    "type": "object",
                },
                "expect": {
                    "description": "Rule id to its expected outcome.",
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {
                        "enum": [o.value for o in Outcome],
                    },
                },
            },
        }
    },
}


@dataclass(frozen=True, slots=True)
class CaseFailure:
    """A rule whose outcome was not the expected one."""

    case: str
    index: int
    rule: str
    expected: Outcome
    actual: Outcome
    message: str
    """Why the rule failed or errored, when it did."""

    def __str__(self) -> str:
        why = f" ({self.message})" if self.message else ""
        return (
            f"cases[{self.index}] {self.case!r}: {self.rule}: expected {self.expected.value}, "
            f"got {self.actual.value}{why}"
        )


@dataclass(frozen=True, slots=True)
class PolicyTestReport:
    """The outcome of one tests file."""

    path: str
    policies: tuple[str, ...]
    """The policy files tested."""
    cases: int
    checks: int
    """How many (case, rule) expectations were checked."""
    failures: tuple[CaseFailure, ...]

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return not self.failures


def policy_tests_path(policy: Path) -> Path:
    """Where a policy's test cases live: ``x.yaml`` → ``x.tests.yaml`` beside it."""
    policy = Path(policy)
    if policy.name.endswith(TESTS_SUFFIX):
        return policy
    return policy.with_name(policy.name.removesuffix(policy.suffix) + TESTS_SUFFIX)


def _policy_for(tests: Path) -> Path:
    return tests.with_name(tests.name.removesuffix(TESTS_SUFFIX) + ".yaml")


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return _load_jsonschema().Draft202012Validator(TESTS_SCHEMA)  # type: ignore[no-any-return]


def _blank(kind: CelType) -> Any:
    if kind.nullable:
        return None
    if kind.kind == "object":
        return {f.name: _blank(f.type) for f in kind.fields}
    return {"string": "", "int": 0, "double": 0.0, "bool": False, "list": [], "map": {}}[kind.kind]


_EXPECTED = {
    "string": "a string",
    "int": "an integer",
    "double": "a number",
    "bool": "a boolean",
    "list": "a list",
    "map": "a mapping",
    "object": "a mapping",
}


class _Facts:
    """Facts given in a tests file, checked against the declared types."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []

    def problem(self, at: tuple[str | int, ...], message: str, *, on_key: bool = False) -> None:
        path = ""
        for part in at:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
        self.problems.append(Problem(self.where, path, message, at=at, on_key=on_key))

    def merge(self, value: Any, kind: CelType, base: Any, at: tuple[str | int, ...]) -> Any:
        if value is None and kind.nullable:
            return None
        if kind.kind == "object":
            if not isinstance(value, dict):
                self.problem(at, f"expected a mapping, got {type(value).__name__}")
                return base
            merged = copy.deepcopy(base)
            for key, item in value.items():
                field = kind.field(str(key))
                if field is None:
                    names = [f.name for f in kind.fields]
                    hint = difflib.get_close_matches(str(key), names, n=1)
                    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                    self.problem((*at, str(key)), f"unknown fact {key!r}{suggestion}", on_key=True)
                    continue
                merged[field.name] = self.merge(
                    item, field.type, merged[field.name], (*at, field.name)
                )
            return merged
        if kind.kind == "list":
            if not isinstance(value, list):
                self.problem(at, f"expected a list, got {type(value).__name__}")
                return base
            elem = kind.elem
            assert elem is not None
            return [self.merge(v, elem, _blank(elem), (*at, i)) for i, v in enumerate(value)]
        if kind.kind == "map":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                self.problem(at, "expected a mapping of strings to strings")
                return base
            return dict(value)
        return self.scalar(value, kind, base, at)

    def scalar(self, value: Any, kind: CelType, base: Any, at: tuple[str | int, ...]) -> Any:
        ok = {
            "string": isinstance(value, str),
            "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "double": isinstance(value, int | float) and not isinstance(value, bool),
        }.get(kind.kind, False)
        if not ok:
            got = "a boolean" if isinstance(value, bool) else type(value).__name__
            self.problem(at, f"expected {_EXPECTED.get(kind.kind, kind.kind)}, got {got}")
            return base
        return float(value) if kind.kind == "double" else value


_STATUSES = frozenset(s.value for s in Status)


def _from_purl(purl: str) -> tuple[str, str]:
    """The name and version a purl names (``pkg:type/ns/name@version?q#s``), or ``""``."""
    if not purl.startswith("pkg:"):
        return "", ""
    body = purl.split("#", 1)[0].split("?", 1)[0]
    path, _, version = body.partition("@")
    return urllib.parse.unquote(path.rsplit("/", 1)[-1]) if "/" in path else "", version


def _component(
    facts: _Facts, given: Mapping[str, Any], at: tuple[str | int, ...]
) -> dict[str, Any]:
    """Component facts from a case, with the derived keys derived."""
    merged: dict[str, Any] = facts.merge(dict(given), COMPONENT, _blank(COMPONENT), at)
    purl_name, purl_version = _from_purl(str(merged["purl"]))
    if "name" not in given:
        merged["name"] = purl_name or "example"
    if "version" not in given:
        merged["version"] = purl_version
    if "normalized_name" not in given:
        merged["normalized_name"] = str(canonicalize_name(merged["name"] or "example"))
    if "pypi" not in given:
        merged["pypi"] = str(merged["purl"]).startswith("pkg:pypi/")
    provenance = merged["provenance"]
    given_provenance = given.get("provenance") if isinstance(given.get("provenance"), dict) else {}
    assert isinstance(given_provenance, dict)
    if "status" not in given_provenance:
        provenance["status"] = (
            Status.UNKNOWN.value if merged["pypi"] else Status.NOT_APPLICABLE.value
        )
    files = provenance["files"]
    if "verified_files" not in given_provenance:
        provenance["verified_files"] = sum(f["status"] == Status.VERIFIED.value for f in files)
    if "total_files" not in given_provenance:
        provenance["total_files"] = len(files)
    for key, status in [(("provenance", "status"), provenance["status"])] + [
        (("provenance", "files", i, "status"), f["status"]) for i, f in enumerate(files)
    ]:
        if status not in _STATUSES:
            facts.problem(
                (*at, *key),
                f"unknown status {status!r} (one of {', '.join(sorted(_STATUSES))})",
            )
    return merged


def _parse_now(text: str | None, where: str) -> dt.datetime:
    if text is None:
        return utc(None)
    try:
        return utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        message = f"invalid time {text!r}: write RFC 3339, e.g. 2026-01-01T00:00:00Z"
        raise PolicyProblems([Problem(where, "now", message, at=("now",))]) from None


def _load(tests: Path) -> tuple[Document, dict[str, Any], list[Problem]]:
    """The parsed tests file and its schema problems (raised unless only cases have them)."""
    where = str(tests)
    try:
        raw = tests.read_bytes()
    except OSError as err:
        message = f"cannot read the tests: {err.strerror or err}"
        raise PolicyProblems([Problem(where, "", message)]) from err
    text, node, data = parse_yaml(raw, where)
    document = Document(where, text, node, data)
    if data is None:
        raise PolicyProblems([Problem(where, "", "the file is empty")])
    problems = [locate(p, document) for p in schema_problems(_validator(), data, where)]
    in_cases = all(p.at[:1] == ("cases",) and len(p.at) >= 2 for p in problems)
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not in_cases:
        raise PolicyProblems(problems)
    return document, data, problems


def run_policy_tests(path: Path, *, engine: str | Engine | None = None) -> PolicyTestReport:
    """Run a tests file (or the tests file beside a policy) and report every failed expectation.

    Raises :class:`InputError` (a :class:`PolicyProblems` carrying every problem, located)
    when the tests file or a policy it tests cannot be used: a missing file, an unknown
    fact or rule id, a wrong type. ``engine`` is the CEL engine (see :func:`evaluate`).
    """
    tests = policy_tests_path(Path(path))
    if not tests.exists() and tests != Path(path):
        raise InputError(f"{path}: no tests beside it (expected {tests})")
    document, data, problems = _load(tests)
    where = str(tests)
    names = data.get("policies")
    paths = [tests.parent / p for p in names] if names else [_policy_for(tests)]
    policies, policy_problems = check_policies(paths, engine=engine)
    if policy_problems:
        raise PolicyProblems(policy_problems)
    now = _parse_now(data.get("now"), where)
    rules = {rule.id: rule for policy in policies for rule in policy.rules}
    broken = {p.at[1] for p in problems}
    facts = _Facts(where)
    checks = 0
    failures: list[CaseFailure] = []
    for index, case in enumerate(data["cases"]):
        if index in broken:
            continue
        at: tuple[str | int, ...] = ("cases", index)
        before = len(facts.problems)
        for rule_id in case["expect"]:
            if rule_id not in rules:
                hint = difflib.get_close_matches(str(rule_id), sorted(rules), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                facts.problem(
                    (*at, "expect", str(rule_id)), f"no rule {rule_id!r}{suggestion}", on_key=True
                )
        component = _component(facts, case.get("component", {}), (*at, "component"))
        outcomes = _outcomes(policies, case, component, facts, at, now, engine)
        if len(facts.problems) > before:
            continue
        for rule_id, expected in case["expect"].items():
            checks += 1
            actual, message = outcomes[rule_id]
            if actual.value != expected:
                failures.append(
                    CaseFailure(case["name"], index, rule_id, Outcome(expected), actual, message)
                )
    problems.extend(locate(p, document) for p in facts.problems)
    if problems:
        raise PolicyProblems(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return PolicyTestReport(
        where, tuple(p.path for p in policies), len(data["cases"]), checks, tuple(failures)
    )


def _outcomes(
    policies: Sequence[Policy],
    case: Mapping[str, Any],
    component: dict[str, Any],
    facts: _Facts,
    at: tuple[str | int, ...],
    now: dt.datetime,
    engine: str | Engine | None,
) -> dict[str, tuple[Outcome, str]]:
    """Each rule's outcome (and message) for one case."""
    book = WaiverBook(policies, now)
    given = case.get("component", {})
    outcomes: dict[str, tuple[Outcome, str]] = {}
    for policy in policies:
        judged = dict(component)
        if "critical" not in given:
            judged["critical"] = policy.is_critical(str(judged["normalized_name"]), judged["rank"])
        before = len(facts.problems)
        sbom = facts.merge(case.get("sbom", {}), SBOM, sbom_facts([judged]), (*at, "sbom"))
        if len(facts.problems) > before:
            return {}
        subject = Subject(facts_label(judged), judged["bom_ref"] or None, judged)
        for finding in judge_policy(policy, [subject], sbom, now, book, engine):
            outcomes[finding.rule.id] = (finding.outcome, finding.message)
    return outcomes
