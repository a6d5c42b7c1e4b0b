"""Compile a policy's CEL expressions and evaluate them over components.

Evaluation fails closed: a rule whose expression errors on a component (a missing key,
a division by zero, a non-boolean result) is a violation carrying the error text, never
an exception and never a pass.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import celpy
import celpy.celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from bomguard.errors import InputError
from bomguard.models import Component, ComponentEvidence, Status
from bomguard.policy.facts import (
    component_facts,
    component_label,
    component_status,
    normalized_name,
)
from bomguard.policy.model import Policy, Rule
from bomguard.policy.verdict import Verdict, Violation

__all__ = ["CompiledRule", "check_unique", "compile_policy", "describe_error", "evaluate"]

_MAX_ERROR_TEXT = 300


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its ready-to-run CEL programs."""

    rule: Rule
    when: Any
    """A ``celpy.Runner`` for ``rule.when``, or ``None`` when the rule always applies."""
    require: Any
    """A ``celpy.Runner`` for ``rule.require``."""


class _ExpressionError(Exception):
    """An expression that cannot be used; the message is one line, without location."""


@functools.cache
def _environment() -> Any:
    # celpy raises the recursion limit when an Environment is made; never lower it.
    limit = sys.getrecursionlimit()
    env = celpy.Environment(runner_class=celpy.InterpretedRunner)
    sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    return env


@functools.cache
def _probe() -> dict[str, Any]:
    """An activation with every key present, to catch misspelt variables at load time."""
    placeholder = Component(locator="", bom_ref=None, name="probe", version=None, purl=None)
    return {"component": json_to_cel(component_facts(placeholder, None, False))}


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_ERROR_TEXT:
        text = text[: _MAX_ERROR_TEXT - 1] + "…"
    return text


def _syntax_error(err: CELParseError, text: str) -> str:
    cause = err.__context__
    token = getattr(cause, "token", None)
    char = getattr(cause, "char", None)
    line, column = err.line, err.column
    if token is not None and getattr(token, "type", None) == "$END":
        what = "unexpected end of expression"
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    elif token is not None:
        what = f"unexpected {str(token)!r}"
    elif char is not None:
        what = f"unexpected character {char!r}"
    else:
        what = (str(err).strip().splitlines() or ["invalid expression"])[0]
    if line is None or column is None:
        where = ""
    elif "\n" in text.strip():
        where = f" at line {line}, column {column}"
    else:
        where = f" at column {column}"
    return _one_line(f"syntax error{where}: {what}")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    name = type(value).__name__
    return name.removesuffix("Type").lower() or name


def describe_error(err: BaseException) -> str:
    """One line saying why an expression could not be evaluated."""
    if isinstance(err, CELEvalError):
        args = err.args
        text = str(args[0]) if args else "evaluation error"
        # celpy appends a dump of the whole activation to undeclared references.
        text = text.split(" (in activation", 1)[0]
        details = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
        extra = "; ".join(str(d) for d in details if str(d) and str(d) not in text)
        return _one_line(f"{text} ({extra})" if extra else text)
    return _one_line(f"{type(err).__name__}: {err}")


def _compile(text: str) -> Any:
    """Compile one expression, or raise :class:`_ExpressionError`."""
    env = _environment()
    try:
        ast = env.compile(text)
    except CELParseError as err:
        raise _ExpressionError(_syntax_error(err, text)) from err
    program = env.program(ast)
    try:
        value = program.evaluate(_probe())
    except CELEvalError as err:
        message = str(err.args[0]) if err.args else ""
        if message.startswith("undeclared reference"):
            raise _ExpressionError(
                f"{describe_error(err)}: the only variable is 'component'"
            ) from err
        return program  # data-dependent errors are judged per component
    except Exception:  # judged per component, where it fails closed
        return program
    if not isinstance(value, celpy.celtypes.BoolType):
        raise _ExpressionError(f"must be a boolean expression, got {_type_name(value)}")
    return program


@functools.lru_cache(maxsize=128)
def compile_policy(policy: Policy) -> tuple[CompiledRule, ...]:
    """Compile every expression of ``policy`` (cached per policy).

    Raises :class:`InputError` naming the policy file and the key path, e.g.
    ``x.yaml: rules[1].require: syntax error at column 12: unexpected '='``.
    """
    compiled = []
    for index, rule in enumerate(policy.rules):
        programs: dict[str, Any] = {"when": None}
        for key in ("when", "require"):
            text = getattr(rule, key)
            if text is None:
                continue
            try:
                programs[key] = _compile(text)
            except _ExpressionError as err:
                where = policy.path or policy.name
                raise InputError(f"{where}: rules[{index}].{key}: {err}") from err
        compiled.append(CompiledRule(rule, programs["when"], programs["require"]))
    return tuple(compiled)


def check_unique(policies: Sequence[Policy]) -> None:
    """Raise :class:`InputError` when policies evaluated together reuse a name or rule id."""
    names: dict[str, Policy] = {}
    rule_ids: dict[str, tuple[Policy, int]] = {}
    for policy in policies:
        where = policy.path or policy.name
        if policy.name in names:
            first = names[policy.name]
            raise InputError(
                f"{where}: metadata.name: duplicate policy name {policy.name!r} "
                f"(also in {first.path or first.name})"
            )
        names[policy.name] = policy
        for index, rule in enumerate(policy.rules):
            if rule.id in rule_ids:
                other, other_index = rule_ids[rule.id]
                first_at = (
                    f"rules[{other_index}]"
                    if other is policy
                    else f"{other.path or other.name}: rules[{other_index}]"
                )
                raise InputError(
                    f"{where}: rules[{index}].id: duplicate rule id {rule.id!r} "
                    f"(first used at {first_at})"
                )
            rule_ids[rule.id] = (policy, index)


def _run(program: Any, activation: dict[str, Any]) -> tuple[bool, str | None]:
    """Evaluate to ``(value, None)``, or ``(False, error text)`` when it cannot."""
    try:
        value = program.evaluate(activation)
    except Exception as err:  # fail closed: any failure is reported, never raised
        return False, describe_error(err)
    if isinstance(value, CELEvalError):
        return False, describe_error(value)
    if not isinstance(value, celpy.celtypes.BoolType):
        return False, f"expected a boolean result, got {_type_name(value)}"
    return bool(value), None


def _message(rule: Rule, facts: dict[str, Any]) -> str:
    provenance = facts["provenance"]
    if rule.message is not None:
        values = {
            "name": facts["name"],
            "version": facts["version"],
            "purl": facts["purl"],
            "status": provenance["status"],
            "reason": provenance["reason"],
        }
        return rule.message.format_map(values)
    what = rule.description or f"requirement not met: {rule.require}"
    reason = f": {provenance['reason']}" if provenance["reason"] else ""
    return f"{what} (provenance {provenance['status']}{reason})"


def _check(compiled: CompiledRule, facts: dict[str, Any], activation: dict[str, Any]) -> str | None:
    """The violation message, or ``None`` when the rule holds or does not apply."""
    if compiled.when is not None:
        applies, error = _run(compiled.when, activation)
        if error is not None:
            return f"rule could not be evaluated: when: {error}"
        if not applies:
            return None
    holds, error = _run(compiled.require, activation)
    if error is not None:
        return f"rule could not be evaluated: require: {error}"
    return None if holds else _message(compiled.rule, facts)


def evaluate(
    policies: Sequence[Policy],
    subjects: Sequence[tuple[Component, ComponentEvidence | None]],
) -> Verdict:
    """Evaluate every rule of every policy over every component.

    A component is evaluated and counted once per locator (the first occurrence wins).
    Raises :class:`InputError` for an empty policy set (fail closed), for policies that
    reuse a name or a rule id, or for a hand-built policy whose expressions do not compile.
    """
    if not policies:
        raise InputError("no policy to evaluate: an empty policy set would pass everything")
    check_unique(policies)
    compiled = [(policy, compile_policy(policy)) for policy in policies]
    counts = dict.fromkeys((s.value for s in Status), 0)
    violations: list[Violation] = []
    seen: set[str] = set()
    for component, evidence in subjects:
        if component.locator in seen:
            continue
        seen.add(component.locator)
        status, _ = component_status(component, evidence)
        counts[status.value] += 1
        name = normalized_name(component)
        for policy, rules in compiled:
            facts = component_facts(component, evidence, policy.is_critical(name))
            activation = {"component": json_to_cel(facts)}
            for rule in rules:
                message = _check(rule, facts, activation)
                if message is not None:
                    violations.append(
                        Violation(
                            rule=rule.rule.id,
                            policy=policy.name,
                            severity=rule.rule.severity,
                            component=component_label(component),
                            bom_ref=component.bom_ref,
                            message=message,
                        )
                    )
    return Verdict.build(policies, counts, violations)
