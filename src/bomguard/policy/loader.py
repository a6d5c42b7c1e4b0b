"""Load policy files: YAML, checked against ``policy.schema.json``, CEL compiled up front.

Every problem is an :class:`~bomguard.errors.InputError` with one line naming the file and
the key path, e.g. ``policies/x.yaml: rules[0]: unknown key 'requires' (did you mean
'require'?)``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import string
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from packaging.utils import canonicalize_name

from bomguard.errors import InputError
from bomguard.policy._schema import first_error, key_path, read_data
from bomguard.policy.engine import check_unique, compile_policy
from bomguard.policy.model import MESSAGE_FIELDS, Policy, Rule, Severity

__all__ = ["DEFAULT_POLICY_PATH", "default_policy", "load_policies", "load_policy"]

DEFAULT_POLICY_PATH = "builtin:default-policy.yaml"
"""How the built-in default policy is named in verdicts."""


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load`` that rejects duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str, where: str) -> object:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = err.problem or err.context or "not valid YAML"
        raise InputError(f"{where}: {at}invalid YAML: {problem}") from err
    except yaml.YAMLError as err:
        raise InputError(f"{where}: invalid YAML: {' '.join(str(err).split())}") from err


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


def _explain(err: jsonschema.ValidationError) -> tuple[str, str]:
    """The key path and a one-line message for a schema error."""
    path = key_path(err.absolute_path)
    instance = err.instance
    value: Any = err.validator_value
    if err.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(err.schema.get("properties", {})) if isinstance(err.schema, dict) else []
        extra = next(k for k in instance if k not in known)
        hint = difflib.get_close_matches(str(extra), known, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return path, f"unknown key {extra!r}{suggestion}"
    if err.validator == "required" and isinstance(instance, dict):
        missing = next(k for k in value if k not in instance)
        return path, f"missing required key {missing!r}"
    if err.validator == "type":
        expected = " or ".join(
            _KINDS.get(t, t) for t in ([value] if isinstance(value, str) else value)
        )
        return path, f"expected {expected}, got {_kind(instance)}"
    if err.validator == "const":
        return path, f"expected {value!r}, got {instance!r}"
    if err.validator == "enum":
        return path, f"expected one of {', '.join(map(repr, value))}, got {instance!r}"
    if err.validator == "minItems" and path == "rules":
        return path, "must not be empty: a policy without rules would pass everything"
    if err.validator in {"minItems", "minLength"}:
        return path, "must not be empty"
    if err.validator == "pattern" and isinstance(err.schema, dict):
        what = err.schema.get("description", f"must match {value}")
        return path, f"invalid value {instance!r}: {what}"
    return path, " ".join(err.message.split())


def _template_problem(template: str) -> str | None:
    """Why a ``message`` template is unusable, or ``None``."""
    allowed = ", ".join(f"{{{f}}}" for f in MESSAGE_FIELDS)
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as err:
        return f"invalid template: {err} (write '{{{{' or '}}}}' for a literal brace)"
    for name, spec, conversion in fields:
        if name not in MESSAGE_FIELDS:
            return f"unknown placeholder {{{name}}} (allowed: {allowed})"
        if spec or conversion:
            return f"placeholder {{{name}}} takes no format spec or conversion"
    return None


def _build(data: dict[str, Any], where: str, sha256: str) -> Policy:
    rules = []
    for index, item in enumerate(data["rules"]):
        message = item.get("message")
        if message is not None:
            problem = _template_problem(message)
            if problem is not None:
                raise InputError(f"{where}: rules[{index}].message: {problem}")
        rules.append(
            Rule(
                id=item["id"],
                require=item["require"],
                when=item.get("when"),
                description=item.get("description", ""),
                severity=Severity(item.get("severity", Severity.ERROR)),
                message=message,
            )
        )
    metadata = data["metadata"]
    return Policy(
        name=metadata["name"],
        rules=tuple(rules),
        critical=tuple(sorted({canonicalize_name(n) for n in data.get("critical", [])})),
        description=metadata.get("description", ""),
        path=where,
        sha256=sha256,
    )


def _load(raw: bytes, where: str) -> Policy:
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{where}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    data = _parse_yaml(text, where)
    if data is None:
        raise InputError(f"{where}: the file is empty")
    error = first_error("policy", data)
    if error is not None:
        path, message = _explain(error)
        raise InputError(f"{where}: {path}: {message}" if path else f"{where}: {message}")
    assert isinstance(data, dict)  # the schema says so
    policy = _build(data, where, sha256)
    check_unique([policy])
    compile_policy(policy)
    return policy


def load_policy(path: Path) -> Policy:
    """Read, check and compile one policy file.

    Raises :class:`InputError` (one line naming the file and the key path) when the file
    cannot be read, is not YAML, does not match the schema, has an empty rule list,
    repeats a rule id or has an expression that does not compile.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read the policy: {err.strerror or err}") from err
    return _load(raw, str(path))


def load_policies(paths: Sequence[Path]) -> tuple[Policy, ...]:
    """Load several policies to be evaluated together.

    Fails closed: no paths at all is an error, and so is a rule id (or a policy name)
    used by more than one of them.
    """
    if not paths:
        raise InputError("no policy file given: an empty policy set would pass everything")
    policies = tuple(load_policy(p) for p in paths)
    check_unique(policies)
    return policies


@functools.cache
def default_policy() -> Policy:
    """The built-in default policy: ``invalid`` provenance fails, everything else passes."""
    return _load(read_data("default-policy.yaml"), DEFAULT_POLICY_PATH)


@functools.cache
def strict_policy() -> Policy:
    """Added under ``--strict``: ``unknown`` provenance of a PyPI component fails."""
    return _load(read_data("strict-policy.yaml"), "builtin:strict-policy.yaml")
