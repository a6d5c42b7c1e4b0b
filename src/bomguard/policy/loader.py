"""Load policy files: YAML, checked against ``policy.schema.json``, CEL compiled up front.

Every problem names the file and the key path, e.g. ``policies/x.yaml: rules[0]: unknown
key 'requires' (did you mean 'require'?)``. :func:`load_policy` raises the first as an
:class:`~bomguard.errors.InputError`; :func:`check_policies` returns them all, located
(line and column in the file), for ``bomguard policy check``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bomguard._jsonschema import load as _load_jsonschema

if TYPE_CHECKING:
    import jsonschema

import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name

from bomguard._strict import find_problem, format_path
from bomguard._strict_yaml import StrictYamlLoader
from bomguard.errors import InputError
from bomguard.policy._schema import key_path, plainly_valid, read_data, relevance, validator
from bomguard.policy.cel_engines import Engine
from bomguard.policy.evaluation import check_set, rule_problems
from bomguard.policy.model import (
    MESSAGE_FIELDS,
    SBOM_MESSAGE_FIELDS,
    Policy,
    Reference,
    Rule,
    Scope,
    Severity,
    Waiver,
)
from bomguard.policy.problems import PolicyProblems, Problem

__all__ = [
    "DEFAULT_POLICY_PATH",
    "Document",
    "check_policies",
    "default_policy",
    "load_policies",
    "load_policy",
    "locate",
    "parse_yaml",
    "schema_problems",
    "strict_policy",
]

DEFAULT_POLICY_PATH = "builtin:default-policy.yaml"
"""How the built-in default policy is named in verdicts."""


class _Loader(StrictYamlLoader):
    """``yaml.safe_load`` that rejects duplicate keys and keeps dates as strings."""

    #: Deepest nesting of YAML collections in a policy (real ones nest a handful deep).
    max_depth = 64


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed YAML file: its text, its node tree (for positions) and its data."""

    where: str
    text: str
    node: yaml.Node | None
    data: object


def _yaml_problem(err: yaml.YAMLError, where: str) -> Problem:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "not valid YAML"
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
            message = f"line {line}, column {column}: invalid YAML: {problem}"
            return Problem(where, "", message, line=line, column=column)
        return Problem(where, "", f"invalid YAML: {problem}")
    return Problem(where, "", f"invalid YAML: {' '.join(str(err).split())}")


def parse_yaml(raw: bytes, where: str) -> tuple[str, yaml.Node | None, object]:
    """Decode and parse a YAML file: its text, node tree and data.

    Dates stay strings and duplicate keys are errors. Raises :class:`PolicyProblems`.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        message = f"not UTF-8 text ({err.reason} at byte {err.start})"
        raise PolicyProblems([Problem(where, "", message)]) from err
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise PolicyProblems([_yaml_problem(err, where)]) from err
    finally:
        loader.dispose()
    found = find_problem(data)
    if found is not None:
        at, message = found
        raise PolicyProblems([Problem(where, format_path(at), message, at=at)])
    return text, node, data


_KINDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def explain(err: jsonschema.ValidationError) -> tuple[str, str, tuple[str | int, ...], bool]:
    """The key path, a one-line message, where to point and whether at a key, for an error."""
    parts = tuple(err.absolute_path)
    path = key_path(parts)
    instance = err.instance
    value: Any = err.validator_value
    if err.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(err.schema.get("properties", {})) if isinstance(err.schema, dict) else []
        extra = next(k for k in instance if k not in known)
        hint = difflib.get_close_matches(str(extra), known, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return path, f"unknown key {extra!r}{suggestion}", (*parts, str(extra)), True
    if err.validator == "required" and isinstance(instance, dict):
        missing = next(k for k in value if k not in instance)
        return path, f"missing required key {missing!r}", parts, False
    if err.validator == "type":
        expected = " or ".join(
            _KINDS.get(t, t) for t in ([value] if isinstance(value, str) else value)
        )
        return path, f"expected {expected}, got {_kind(instance)}", parts, False
    if err.validator == "const":
        return path, f"expected {value!r}, got {instance!r}", parts, False
    if err.validator == "enum":
        return (
            path,
            f"expected one of {', '.join(map(repr, value))}, got {instance!r}",
            parts,
            False,
        )
    if err.validator == "minItems" and path == "rules":
        return path, "must not be empty: a policy without rules would pass everything", parts, False
    if err.validator in {"minItems", "minLength"}:
        return path, "must not be empty", parts, False
    if err.validator == "pattern" and isinstance(err.schema, dict):
        what = err.schema.get("description", f"must match {value}")
        return path, f"invalid value {instance!r}: {what}", parts, False
    return path, " ".join(err.message.split()), parts, False


def schema_problems(
    checker: jsonschema.Draft202012Validator, data: object, where: str
) -> list[Problem]:
    """Every schema error of ``data``, the most relevant first."""
    errors = list(checker.iter_errors(data))
    if not errors:
        return []
    best = _load_jsonschema().exceptions.best_match(errors, key=relevance)
    ordered = [best, *sorted((e for e in errors if e is not best), key=lambda e: e.json_path)]
    problems = []
    for error in ordered:
        path, message, at, on_key = explain(error)
        rule = ""
        if len(at) >= 2 and at[0] == "rules" and isinstance(at[1], int):
            item = data["rules"][at[1]] if isinstance(data, dict) else None
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                rule = item["id"]
        problem = Problem(where, path, message, rule=rule, at=at, on_key=on_key)
        if problem not in problems:
            problems.append(problem)
    return problems


def _template_problem(template: str, allowed_fields: Sequence[str]) -> str | None:
    """Why a ``message`` template is unusable, or ``None``."""
    allowed = ", ".join(f"{{{f}}}" for f in allowed_fields)
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as err:
        return f"invalid template: {err} (write '{{{{' or '}}}}' for a literal brace)"
    for name, spec, conversion in fields:
        if name not in allowed_fields:
            return f"unknown placeholder {{{name}}} (allowed: {allowed})"
        if spec or conversion:
            return f"placeholder {{{name}}} takes no format spec or conversion"
    return None


def _rule(
    item: dict[str, Any], index: int, where: str, refs: set[str] | None
) -> tuple[Rule, list[Problem]]:
    """A rule from a schema-valid item, and the problems of its message and references.

    ``refs`` are the declared reference ids (``None``: unknown, so not checked).
    """
    scope = Scope(item.get("scope", Scope.COMPONENT))
    rule = Rule(
        id=item["id"],
        require=item["require"],
        when=item.get("when"),
        description=item.get("description", ""),
        severity=Severity(item.get("severity", Severity.ERROR)),
        message=item.get("message"),
        scope=scope,
        references=tuple(item.get("references", ())),
    )
    problems = []
    if rule.message is not None:
        fields = MESSAGE_FIELDS if scope is Scope.COMPONENT else SBOM_MESSAGE_FIELDS
        problem = _template_problem(rule.message, fields)
        if problem is not None:
            key = f"rules[{index}].message"
            problems.append(
                Problem(where, key, problem, rule=rule.id, at=("rules", index, "message"))
            )
    for position, ref in enumerate(rule.references):
        if refs is not None and ref not in refs:
            hint = difflib.get_close_matches(ref, sorted(refs), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(
                Problem(
                    where,
                    f"rules[{index}].references[{position}]",
                    f"unknown reference {ref!r}{suggestion}: declare it in metadata.references",
                    rule=rule.id,
                    at=("rules", index, "references", position),
                )
            )
    return rule, problems


def _waiver(item: dict[str, Any], index: int, where: str) -> tuple[Waiver | None, list[Problem]]:
    key = f"waivers[{index}]"
    problems = []
    try:
        expires = dt.date.fromisoformat(item["expires"])
    except ValueError:
        problems.append(
            Problem(
                where,
                f"{key}.expires",
                f"invalid date {item['expires']!r}: write YYYY-MM-DD",
                at=("waivers", index, "expires"),
            )
        )
    if "purl" in item and "name" in item:
        problems.append(
            Problem(where, key, "give purl or name, not both", at=("waivers", index, "name"))
        )
    if problems:
        return None, problems
    name = item.get("name")
    return (
        Waiver(
            rule=item["rule"],
            reason=item["reason"],
            approver=item["approver"],
            expires=expires,
            purl=item.get("purl"),
            name=None if name is None else str(canonicalize_name(name)),
            index=index,
        ),
        [],
    )


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _inspect(
    document: Document, sha256: str, engine: str | Engine | None = None
) -> tuple[Policy | None, list[Problem]]:
    """The policy in a parsed document, or ``None`` and every problem found in it."""
    where, data = document.where, document.data
    if data is None:
        return None, [Problem(where, "", "the file is empty")]
    problems = (
        [] if plainly_valid("policy", data) else schema_problems(validator("policy"), data, where)
    )
    if not isinstance(data, dict):
        return None, problems
    # Items the schema rejected are still compiled where they can be, and the others
    # checked fully, so that every problem of the file is reported at once.
    broken = {p.at[:2] for p in problems if len(p.at) >= 2 and isinstance(p.at[1], int)}
    metadata_ok = not any(p.at[:1] == ("metadata",) for p in problems)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    refs: list[Reference] = []
    for index, item in _items(metadata, "references"):
        if not isinstance(item.get("id"), str):
            continue
        if any(r.id == item["id"] for r in refs):
            problems.append(
                Problem(
                    where,
                    f"metadata.references[{index}].id",
                    f"duplicate reference id {item['id']!r}",
                    at=("metadata", "references", index, "id"),
                )
            )
        refs.append(Reference(item["id"], str(item.get("title", "")), str(item.get("url", ""))))
    ref_ids = {r.id for r in refs}
    rules = []
    for index, item in _items(data, "rules"):
        if ("rules", index) in broken:
            rule_id = item.get("id") if isinstance(item.get("id"), str) else f"rules[{index}]"
            scope = item.get("scope", "component")
            if not isinstance(item.get("require"), str) or scope not in {"component", "sbom"}:
                continue
            when = item.get("when") if isinstance(item.get("when"), str) else None
            candidate = Rule(str(rule_id), item["require"], when, scope=Scope(scope))
            problems.extend(rule_problems(candidate, index, where, engine)[1])
            continue
        rule, found = _rule(item, index, where, ref_ids if metadata_ok else None)
        problems.extend(found)
        problems.extend(rule_problems(rule, index, where, engine)[1])
        rules.append(rule)
    waivers = []
    for index, item in _items(data, "waivers"):
        if ("waivers", index) in broken:
            continue
        waiver, found = _waiver(item, index, where)
        problems.extend(found)
        if waiver is not None:
            waivers.append(waiver)
    if problems:
        return None, problems
    policy = Policy(
        name=metadata["name"],
        rules=tuple(rules),
        critical=tuple(sorted({canonicalize_name(n) for n in _critical_names(data)})),
        critical_top=_critical_top(data),
        description=metadata.get("description", ""),
        path=where,
        sha256=sha256,
        owner=metadata.get("owner", ""),
        references=tuple(refs),
        waivers=tuple(waivers),
    )
    return policy, check_set([policy], waivers=False)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        message = f"cannot read the policy: {err.strerror or err}"
        raise PolicyProblems([Problem(str(path), "", message)]) from err


def _load(
    raw: bytes, where: str, engine: str | Engine | None = None
) -> tuple[Policy | None, list[Problem], Document | None]:
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        text, node, data = parse_yaml(raw, where)
    except PolicyProblems as err:
        return None, err.problems, None
    document = Document(where, text, node, data)
    policy, problems = _inspect(document, sha256, engine)
    return (policy if not problems else None), problems, document


def load_policy(path: Path) -> Policy:
    """Read, check and compile one policy file.

    Raises :class:`InputError` (one line naming the file and the key path of the first
    problem; :class:`PolicyProblems` carries them all) when the file cannot be read, is
    not YAML, does not match the schema, has an empty rule list, repeats a rule id or has
    an expression that does not compile.
    """
    path = Path(path)
    policy, problems, _ = _load(_read(path), str(path))
    if problems:
        raise PolicyProblems(problems)
    assert policy is not None
    return policy


def load_policies(paths: Sequence[Path]) -> tuple[Policy, ...]:
    """Load several policies to be evaluated together.

    Fails closed: no paths at all is an error, and so is a rule id (or a policy name)
    used by more than one of them, or a waiver of a rule none of them has.
    """
    if not paths:
        raise InputError("no policy file given: an empty policy set would pass everything")
    policies = tuple(load_policy(p) for p in paths)
    problems = check_set(policies)
    if problems:
        raise PolicyProblems(problems)
    return policies


# --- locating problems in the file -------------------------------------------------------


def _node_at(root: yaml.Node | None, at: Sequence[str | int]) -> yaml.Node | None:
    """The node at a key path, or the deepest one found on the way."""
    node = root
    for part in at:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _key_node(root: yaml.Node | None, at: Sequence[str | int]) -> yaml.Node | None:
    """The key node of the last part of ``at``, for pointing at an unknown key."""
    parent = _node_at(root, at[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == at[-1]:
                return key_node
    return None


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _scalar_index(node: yaml.ScalarNode, text: str, offset: int) -> int:
    """The index in ``text`` of character ``offset`` of a scalar's value (best effort)."""
    start, end = node.start_mark.index, node.end_mark.index
    source = text[start:end]
    i = 0
    if node.style in {"|", ">"}:
        i = source.find("\n") + 1
    elif node.style in {"'", '"'}:
        i = 1
    for k, char in enumerate(node.value):
        if char.isspace():
            continue
        while i < len(source) and source[i] != char:
            if source[i].isspace() or source[i] in "\\'\"":
                i += 1
                continue
            return start
        if i >= len(source):
            return start
        if k >= offset:
            return start + i
        i += 1
    # Past the last character (e.g. "unexpected end of expression"): just after it.
    return start + i if offset >= len(node.value.rstrip()) else start


def locate(problem: Problem, document: Document | None) -> Problem:
    """The problem with its line and column in the file, when they can be found."""
    if problem.line is not None or document is None or document.node is None:
        return problem
    node = _node_at(document.node, problem.at)
    if problem.on_key and problem.at and isinstance(problem.at[-1], str):
        node = _key_node(document.node, problem.at) or node
    if node is None:
        return problem
    index = node.start_mark.index
    if problem.offset is not None and isinstance(node, yaml.ScalarNode):
        index = _scalar_index(node, document.text, problem.offset)
    line, column = _line_column(document.text, index)
    return dataclasses.replace(problem, line=line, column=column)


def check_policies(
    paths: Sequence[Path], *, engine: str | Engine | None = None
) -> tuple[tuple[Policy, ...], list[Problem]]:
    """Check policy files as a set: the policies, and every problem of every file, located.

    Problems of the set are checked among the files that loaded cleanly: a rule id in
    two files always, a waiver of a rule no file has only when every file loaded.
    """
    problems: list[Problem] = []
    documents: dict[str, Document] = {}
    policies = []
    for path in paths:
        try:
            raw = _read(Path(path))
        except PolicyProblems as err:
            problems.extend(err.problems)
            continue
        policy, found, document = _load(raw, str(path), engine)
        if document is not None:
            documents[str(path)] = document
        located = [locate(p, document) for p in found]
        problems.extend(sorted(located, key=lambda p: (p.line or 0, p.column or 0)))
        if policy is not None:
            policies.append(policy)
    # A waiver may name a rule of a file that did not load: judge waivers once all did.
    all_loaded = len(policies) == len(paths)
    between = check_set(policies, waivers=all_loaded)
    problems.extend(locate(p, documents.get(p.file)) for p in between)
    return tuple(policies), problems


@functools.cache
def default_policy() -> Policy:
    """The built-in default policy: ``invalid`` provenance fails, everything else passes."""
    return _builtin("default-policy.yaml")


@functools.cache
def strict_policy() -> Policy:
    """Added under ``--strict``: ``unknown`` provenance of a PyPI component fails."""
    return _builtin("strict-policy.yaml")


def _builtin(name: str) -> Policy:
    policy, problems, _ = _load(read_data(name), f"builtin:{name}")
    if problems:
        raise PolicyProblems(problems)
    assert policy is not None
    return policy


def _critical_names(data: Mapping[str, Any]) -> list[str]:
    """``critical`` as a plain list of names, or its ``names`` in the ``{names, top}`` form."""
    critical = data.get("critical", [])
    if isinstance(critical, dict):
        return list(critical.get("names", []))
    return list(critical)


def _critical_top(data: Mapping[str, Any]) -> int | None:
    critical = data.get("critical")
    if isinstance(critical, dict) and "top" in critical:
        return int(critical["top"])
    return None
