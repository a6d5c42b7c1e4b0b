"""Compile a policy's CEL expressions and evaluate them over components and the SBOM.

Compiling checks each expression against the declared variables and functions
(:mod:`bomguard.policy.checker`) before anything is evaluated, so a misspelt field is a
load-time error.

Evaluation fails closed: a rule whose expression errors on a component (a missing map
key, a division by zero, an invalid version) has the outcome ``error``, a violation
carrying the error text, never an exception and never a pass.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bomguard._memory import collector_paused
from bomguard.criticality import RankSnapshot, load_snapshot
from bomguard.errors import InputError
from bomguard.models import Component, ComponentEvidence, Status
from bomguard.policy import limits
from bomguard.policy.cel_engines import (
    FAILS,
    HOLDS,
    NOT_APPLICABLE,
    Engine,
    describe_error,
    get_engine,
    one_line,
)
from bomguard.policy.facts import (
    component_facts,
    component_label,
    component_status,
    normalized_name,
    sbom_facts,
)
from bomguard.policy.graphfacts import graph_facts_by_locator, uses_reachability
from bomguard.policy.model import SBOM_SUBJECT, Outcome, Policy, Rule, Scope, Waiver
from bomguard.policy.problems import ExpressionProblem, Problem
from bomguard.policy.usage import Usage, component_keys, policy_usage, trimmer
from bomguard.policy.verdict import Finding, Result, Verdict, WaiverUse
from bomguard.policy.vetted import analysis_for
from bomguard.policy.vocabulary import variables_for
from bomguard.sbom.graph import DependencyGraph

if TYPE_CHECKING:
    from celpy.celparser import CELParseError

__all__ = [
    "CompiledRule",
    "Subject",
    "WaiverBook",
    "check_set",
    "check_unique",
    "compile_expression",
    "compile_policy",
    "describe_error",
    "evaluate",
    "judge_policy",
    "utc",
]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its ready-to-run CEL programs."""

    rule: Rule
    when: Any
    """The engine's program for ``rule.when``, or ``None`` when the rule always applies."""
    require: Any
    """The engine's program for ``rule.require``."""


@functools.cache
def _parser() -> Any:
    """cel-python's parser: every engine's expressions are parsed and checked with it."""
    import celpy

    from bomguard.policy._celparser import prepare

    prepare()  # the grammar's parser, built once per user (see _celparser)
    # celpy raises the recursion limit when an Environment is made; never lower it.
    limit = sys.getrecursionlimit()
    env = celpy.Environment(runner_class=celpy.InterpretedRunner)
    sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    return env


def _offset_of(text: str, line: int, column: int) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(x) for x in lines[: max(line - 1, 0)]) + max(column - 1, 0)


def _syntax_error(err: CELParseError, text: str) -> ExpressionProblem:
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
        where, offset = "", 0
    elif "\n" in text.strip():
        where, offset = f" at line {line}, column {column}", _offset_of(text, line, column)
    else:
        where, offset = f" at column {column}", _offset_of(text, line, column)
    return ExpressionProblem(offset, one_line(f"syntax error{where}: {what}"))


def _scope_note(scope: Scope) -> str:
    names = list(variables_for(scope))
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return f"{'an' if scope is Scope.SBOM else 'a'} {scope.value}-scope rule sees {listed}"


def compile_expression(
    text: str, scope: Scope, engine: str | Engine | None = None
) -> tuple[Any, tuple[ExpressionProblem, ...]]:
    """A program for ``text`` on ``engine`` (default ``python``), or ``None`` and every
    problem found in it."""
    return _compile(text, scope, get_engine(engine))


@functools.lru_cache(maxsize=256)
def parse(text: str) -> Any:
    """cel-python's parse tree of ``text`` (raises ``CELParseError``)."""
    return _parser().compile(text)


def _too_deep() -> ExpressionProblem:
    return ExpressionProblem(
        0, f"expression is nested too deeply (limit: a parse tree {limits.MAX_TREE_DEPTH} deep)"
    )


@functools.lru_cache(maxsize=2048)
def _compile(text: str, scope: Scope, engine: Engine) -> tuple[Any, tuple[ExpressionProblem, ...]]:
    from celpy.celparser import CELParseError

    from bomguard.policy.checker import check_expression

    too_long = limits.text_problem(text)
    if too_long is not None:
        return None, (ExpressionProblem(0, too_long),)
    try:
        ast = parse(text)
    except CELParseError as err:
        return None, (_syntax_error(err, text),)
    except RecursionError:
        return None, (_too_deep(),)
    if limits.tree_depth(ast) > limits.MAX_TREE_DEPTH:
        return None, (_too_deep(),)
    try:
        variables = {name: v.type for name, v in variables_for(scope).items()}
        kind, problems = check_expression(ast, variables, _scope_note(scope))
        if problems:
            return None, tuple(problems)
        if kind.known and kind.kind != "bool":
            return None, (ExpressionProblem(0, f"must be a boolean expression, got {kind}"),)
        costly = limits.over_budget(limits.estimate(ast, variables))
        if costly is not None:
            return None, (ExpressionProblem(0, f"too costly to evaluate: {costly}"),)
        return engine.compile(text, ast, scope)
    except RecursionError:
        return None, (_too_deep(),)


def rule_problems(
    rule: Rule, index: int, where: str, engine: str | Engine | None = None
) -> tuple[CompiledRule | None, list[Problem]]:
    """Compile one rule's expressions: the compiled rule, or ``None`` and its problems."""
    programs: dict[str, Any] = {"when": None, "require": None}
    problems: list[Problem] = []
    for key in ("when", "require"):
        text = getattr(rule, key)
        if text is None:
            continue
        program, found = compile_expression(text, rule.scope, engine)
        programs[key] = program
        problems.extend(
            Problem(
                where,
                f"rules[{index}].{key}",
                p.message,
                rule=rule.id,
                at=("rules", index, key),
                offset=p.offset,
            )
            for p in found
        )
    if problems:
        return None, problems
    return CompiledRule(rule, programs["when"], programs["require"]), []


def compile_policy(policy: Policy, engine: str | Engine | None = None) -> tuple[CompiledRule, ...]:
    """Compile every expression of ``policy`` for ``engine`` (cached per policy and engine).

    Raises :class:`InputError` naming the policy file and the key path of the first
    problem, e.g. ``x.yaml: rules[1].require: syntax error at column 12: unexpected '='``.
    """
    return _compile_policy(policy, get_engine(engine))


@functools.lru_cache(maxsize=128)
def _compile_policy(policy: Policy, engine: Engine) -> tuple[CompiledRule, ...]:
    vetted = _compile_vetted(policy, engine)
    if vetted is not None:
        return vetted
    compiled = []
    for index, rule in enumerate(policy.rules):
        done, problems = rule_problems(rule, index, policy.where, engine)
        if problems:
            raise problems[0].error()
        assert done is not None
        compiled.append(done)
    return tuple(compiled)


def _compile_vetted(policy: Policy, engine: Engine) -> tuple[CompiledRule, ...] | None:
    """``policy`` compiled straight by ``engine`` when a remembered check of it for that
    engine was read in this run (:mod:`bomguard.policy.vetted`); else ``None``."""
    analysis = analysis_for(policy)
    if analysis is None or analysis.engine != engine.name or engine.needs_tree:
        return None
    compiled = []
    for rule in policy.rules:
        programs: dict[str, Any] = {"when": None, "require": None}
        for key in programs:
            text = getattr(rule, key)
            if text is None:
                continue
            program, problems = engine.compile(text, None, rule.scope)
            if problems or program is None:
                return None  # not as remembered: the full check says why
            programs[key] = program
        compiled.append(CompiledRule(rule, programs["when"], programs["require"]))
    return tuple(compiled)


def check_set(policies: Sequence[Policy], *, waivers: bool = True) -> list[Problem]:
    """Problems of policies evaluated together.

    A policy name or rule id used twice; with ``waivers``, also a waiver naming a rule
    no policy of the set defines, or naming components for an sbom-scope rule (or none
    for a component-scope rule).
    """
    problems = []
    names: dict[str, Policy] = {}
    rules: dict[str, tuple[Policy, int]] = {}
    for policy in policies:
        if policy.name in names:
            first = names[policy.name]
            problems.append(
                Problem(
                    policy.where,
                    "metadata.name",
                    f"duplicate policy name {policy.name!r} (also in {first.where})",
                    at=("metadata", "name"),
                )
            )
        names.setdefault(policy.name, policy)
        for index, rule in enumerate(policy.rules):
            if rule.id in rules:
                other, other_index = rules[rule.id]
                first_at = (
                    f"rules[{other_index}]"
                    if other is policy
                    else f"{other.where}: rules[{other_index}]"
                )
                problems.append(
                    Problem(
                        policy.where,
                        f"rules[{index}].id",
                        f"duplicate rule id {rule.id!r} (first used at {first_at})",
                        rule=rule.id,
                        at=("rules", index, "id"),
                    )
                )
                continue
            rules[rule.id] = (policy, index)
    if not waivers:
        return problems
    for policy in policies:
        for waiver in policy.waivers:
            key = f"waivers[{waiver.index}]"
            target = rules.get(waiver.rule)
            if target is None:
                known = sorted(rules)
                hint = _close(waiver.rule, known)
                problems.append(
                    Problem(
                        policy.where,
                        f"{key}.rule",
                        f"no policy evaluated with this one has a rule {waiver.rule!r}{hint}",
                        at=("waivers", waiver.index, "rule"),
                    )
                )
                continue
            scope = target[0].rules[target[1]].scope
            named = waiver.purl is not None or waiver.name is not None
            if scope is Scope.SBOM and named:
                problems.append(
                    Problem(
                        policy.where,
                        key,
                        f"rule {waiver.rule!r} judges the whole SBOM: "
                        "its waiver names no purl or name",
                        at=("waivers", waiver.index),
                    )
                )
            elif scope is Scope.COMPONENT and not named:
                problems.append(
                    Problem(
                        policy.where,
                        key,
                        f"rule {waiver.rule!r} judges components: "
                        "name the waived ones with purl or name",
                        at=("waivers", waiver.index),
                    )
                )
    return problems


def _close(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_unique(policies: Sequence[Policy]) -> None:
    """Raise :class:`InputError` when policies evaluated together reuse a name or rule id."""
    problems = check_set(policies, waivers=False)
    if problems:
        raise problems[0].error()


def utc(now: dt.datetime | None) -> dt.datetime:
    """``now`` as an aware UTC datetime (naive means UTC); the current time for ``None``."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a component-scope rule judges: a component's facts and how to name it."""

    label: str
    bom_ref: str | None
    facts: Mapping[str, Any]


class WaiverBook:
    """The waivers of a policy set at one moment, and how often each matched a failure."""

    def __init__(self, policies: Sequence[Policy], now: dt.datetime) -> None:
        self.now = now
        self.entries = [(p, w) for p in policies for w in p.waivers]
        self.matched = [0] * len(self.entries)
        self.by_rule: dict[str, list[int]] = {}
        for position, (_, waiver) in enumerate(self.entries):
            self.by_rule.setdefault(waiver.rule, []).append(position)

    def waive(self, rule: str, subject: Subject | None) -> tuple[Policy, Waiver] | None:
        """The first unexpired waiver covering a failure of ``rule`` (``None``: the SBOM).

        Every waiver that covers it, expired or not, counts the match.
        """
        chosen = None
        for position in self.by_rule.get(rule, ()):
            policy, waiver = self.entries[position]
            if subject is None:
                covers = waiver.matches("", "", sbom=True)
            else:
                covers = waiver.matches(
                    str(subject.facts["purl"]), str(subject.facts["normalized_name"]), sbom=False
                )
            if not covers:
                continue
            self.matched[position] += 1
            if chosen is None and not waiver.expired(self.now):
                chosen = (policy, waiver)
        return chosen

    def uses(self) -> list[WaiverUse]:
        """Every waiver with its state: ``applied``, ``unused`` or ``expired``."""
        result = []
        for (policy, waiver), matched in zip(self.entries, self.matched, strict=True):
            state: Literal["applied", "unused", "expired"] = "expired"
            if not waiver.expired(self.now):
                state = "applied" if matched else "unused"
            result.append(WaiverUse(policy.name, waiver, state, matched))
        return result


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _message(rule: Rule, facts: Mapping[str, Any] | None, sbom: Mapping[str, Any]) -> str:
    if facts is None:
        coverage = sbom["coverage"]
        values = {
            "components": str(sbom["components"]),
            "pypi": str(sbom["pypi"]),
            "verified": str(sbom["counts"][Status.VERIFIED.value]),
            "coverage": _percent(coverage["overall"]),
            "critical_coverage": _percent(coverage["critical"]),
        }
        if rule.message is not None:
            return rule.message.format_map(values)
        what = rule.description or f"requirement not met: {rule.require}"
        return (
            f"{what} ({values['verified']} of {values['pypi']} PyPI components verified, "
            f"{values['coverage']})"
        )
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


_SAID = {NOT_APPLICABLE: Outcome.NOT_APPLICABLE, HOLDS: Outcome.PASS, FAILS: Outcome.FAIL}


def _judge(
    engine: Engine,
    compiled: CompiledRule,
    activation: Any,
    facts: Mapping[str, Any] | None,
    sbom: Mapping[str, Any],
    length: int = 0,
) -> tuple[Outcome, str]:
    if length > limits.NOMINAL_DATA_LENGTH:
        # Facts longer than the policy was checked for: bound the cost again before
        # running anything that cannot be interrupted.
        for key in ("when", "require"):
            text = getattr(compiled.rule, key)
            costly = (
                limits.exceeds_for(text, compiled.rule.scope, length) if text is not None else None
            )
            if costly is not None:
                return Outcome.ERROR, (
                    f"rule could not be evaluated: {key}: too costly on this component "
                    f"(a list of {length} elements): {costly}"
                )
    if compiled.when is not None:
        applies, error = engine.run(compiled.when, activation)
        if error is not None:
            return Outcome.ERROR, f"rule could not be evaluated: when: {error}"
        if not applies:
            return Outcome.NOT_APPLICABLE, ""
    holds, error = engine.run(compiled.require, activation)
    if error is not None:
        return Outcome.ERROR, f"rule could not be evaluated: require: {error}"
    if holds:
        return Outcome.PASS, ""
    return Outcome.FAIL, _message(compiled.rule, facts, sbom)


@functools.lru_cache(maxsize=128)
def _combined(policy: Policy, engine: Engine) -> Any:
    """``engine``'s one program for all of ``policy``'s component rules, or ``None``."""
    rules = [r for r in policy.rules if r.scope is Scope.COMPONENT]
    return engine.combine([(r.when, r.require) for r in rules], Scope.COMPONENT)


@functools.lru_cache(maxsize=128)
def usage_of(policy: Policy) -> Usage | None:
    """The ``component`` facts ``policy``'s rules can read (``None``: any)."""
    analysis = analysis_for(policy)
    if analysis is not None:
        return analysis.usage
    rules = [r for r in policy.rules if r.scope is Scope.COMPONENT]
    return policy_usage(t for r in rules for t in (r.when, r.require))


@functools.lru_cache(maxsize=128)
def measures(policy: Policy) -> bool:
    """Whether the cost of any of ``policy``'s component rules grows with the length of
    the facts' lists, so that each component's lists must be measured."""
    analysis = analysis_for(policy)
    if analysis is not None:
        return analysis.sensitive
    return any(
        limits.data_sensitive(text, Scope.COMPONENT)
        for rule in policy.rules
        if rule.scope is Scope.COMPONENT
        for text in (rule.when, rule.require)
        if text is not None
    )


def judge_policy(
    policy: Policy,
    subjects: Sequence[Subject],
    sbom: Mapping[str, Any],
    now: dt.datetime,
    waivers: WaiverBook,
    engine: str | Engine | None = None,
    passed: list[Result] | None = None,
) -> list[Finding]:
    """Every rule of ``policy`` over every subject (component rules) or the SBOM (sbom rules).

    With ``passed``, the ``pass`` and ``not-applicable`` outcomes of component rules go
    there as bare results (for :meth:`Verdict.build`), and only the others are findings.

    Each subject is bound to CEL once, with only the keys of its facts the rules can read
    (:mod:`bomguard.policy.usage`). Where the engine can judge all component rules in one
    program, that runs first; a subject on which it reports any error or non-boolean has
    every rule run alone, so each outcome (``error`` included) is the one that rule gives
    by itself.
    """
    runner = get_engine(engine)
    findings: list[Finding] = []
    compiled = compile_policy(policy, runner)
    per_component = [c for c in compiled if c.rule.scope is Scope.COMPONENT]
    # Measure each component's lists only for rules whose cost depends on them.
    measure = measures(policy)
    trim = trimmer(usage_of(policy))
    shared = runner.bind({"sbom": sbom, "now": now})
    combined = _combined(policy, runner) if per_component else None
    name, append = policy.name, findings.append
    keep = passed.append if passed is not None else None
    for subject in subjects if per_component else ():
        facts = subject.facts
        bound, longest = trim(facts)
        activation = runner.bind({"component": bound}, shared)
        length = 0
        if measure:
            length = limits.data_length(bound) if longest is None else longest
        said = None
        if combined is not None and length <= limits.NOMINAL_DATA_LENGTH:
            said = runner.run_combined(combined, activation)
        label, ref = subject.label, subject.bom_ref
        for position, rule in enumerate(per_component):
            if said is None:
                outcome, message = _judge(runner, rule, activation, facts, sbom, length)
            else:
                outcome = _SAID[said[position]]
                if outcome is not Outcome.FAIL:  # the usual case: pass or not-applicable
                    if keep is not None:
                        keep(Result(rule.rule.id, label, outcome))
                    else:
                        append(Finding(rule.rule, name, label, ref, outcome, ""))
                    continue
                message = _message(rule.rule, facts, sbom)
            waiver = waivers.waive(rule.rule.id, subject) if outcome is Outcome.FAIL else None
            append(
                Finding(
                    rule=rule.rule,
                    policy=name,
                    component=label,
                    bom_ref=ref,
                    outcome=Outcome.WAIVED if waiver is not None else outcome,
                    message=message,
                    waiver=waiver,
                )
            )
    per_sbom = [c for c in compiled if c.rule.scope is Scope.SBOM]
    for rule in per_sbom:
        outcome, message = _judge(runner, rule, shared, None, sbom)
        waiver = waivers.waive(rule.rule.id, None) if outcome is Outcome.FAIL else None
        findings.append(
            Finding(
                rule=rule.rule,
                policy=policy.name,
                component=SBOM_SUBJECT,
                bom_ref=None,
                outcome=Outcome.WAIVED if waiver is not None else outcome,
                message=message,
                waiver=waiver,
            )
        )
    return findings


def evaluate(
    policies: Sequence[Policy],
    subjects: Sequence[tuple[Component, ComponentEvidence | None]],
    *,
    now: dt.datetime | None = None,
    engine: str | Engine | None = None,
    changes: Mapping[str, Mapping[str, Any]] | None = None,
    graph: DependencyGraph | None = None,
    ranks: RankSnapshot | None = None,
) -> Verdict:
    """Evaluate every rule of every policy over every component, and over the SBOM.

    ``changes`` gives ``component.change`` by component locator (``bomguard diff`` and
    ``upgrades``); components it does not name see a blank change.

    A component is evaluated and counted once per locator (the first occurrence wins).
    ``now`` (default: the current time; naive means UTC) is bound to ``now`` in CEL and
    decides which waivers have expired. ``engine`` is ``python`` (the default), ``cpp``
    (cel-expr-python) or ``auto`` (cpp when installed), or an :class:`Engine`.

    Raises :class:`InputError` for an empty policy set (fail closed), for policies that
    reuse a name or a rule id, for a waiver naming a rule none of them has, or for a
    hand-built policy whose expressions do not compile.

    ``graph`` is the SBOM's dependency graph (``None``: it states none, and every
    ``component.graph`` fact is null); ``ranks`` the download-rank snapshot (default: the
    one :func:`bomguard.criticality.load_snapshot` finds).
    """
    if not policies:
        raise InputError("no policy to evaluate: an empty policy set would pass everything")
    # Evaluation allocates about a hundred containers per component (facts, activations,
    # findings) and frees them by reference counting: none of them form cycles. Left
    # running, the collector would walk every live object many times over (about a third
    # of the time for 10 rules over 10,000 components).
    with collector_paused():
        return _evaluate(policies, subjects, now, engine, changes, graph, ranks)


def _evaluate(
    policies: Sequence[Policy],
    subjects: Sequence[tuple[Component, ComponentEvidence | None]],
    now: dt.datetime | None,
    engine: str | Engine | None,
    changes: Mapping[str, Mapping[str, Any]] | None,
    graph: DependencyGraph | None,
    ranks: RankSnapshot | None,
) -> Verdict:
    problems = check_set(policies)
    if problems:
        raise problems[0].error()
    runner = get_engine(engine)
    for policy in policies:
        compile_policy(policy, runner)
    moment = utc(now)
    unique: list[tuple[Component, ComponentEvidence | None]] = []
    seen: set[str] = set()
    counts = dict.fromkeys((s.value for s in Status), 0)
    for component, evidence in subjects:
        if component.locator in seen:
            continue
        seen.add(component.locator)
        unique.append((component, evidence))
        status, _ = component_status(component, evidence)
        counts[status.value] += 1
    book = WaiverBook(policies, moment)
    findings: list[Finding] = []
    passed: list[Result] = []
    snapshot = ranks if ranks is not None else load_snapshot()
    listed = [c for c, _ in unique]
    placed_by: dict[bool, dict[str, dict[str, Any]]] = {}
    for policy in policies:
        reach = uses_reachability(t for r in policy.rules for t in (r.when, r.require))
        if reach not in placed_by:
            # Without a graph every component gets blank graph facts (component_facts').
            placed_by[reach] = (
                {} if graph is None else graph_facts_by_locator(graph, listed, reachability=reach)
            )
        placed = placed_by[reach]
        judged = []
        usage = usage_of(policy)
        keys = component_keys(usage)
        codes = usage is None or any(
            "code" in usage.get(kind, ())
            for kind in ("component.provenance", "component.provenance.files[]")
        )
        file_facts = usage is None or "files" in usage.get("component.provenance", ())
        for component, evidence in unique:
            name = normalized_name(component)
            rank = snapshot.rank(name) if component.pypi is not None else None
            facts = component_facts(
                component,
                evidence,
                policy.is_critical(name, rank),
                rank=rank,
                graph=placed.get(component.locator),
                change=(changes or {}).get(component.locator),
                keys=keys,
                codes=codes,
                file_facts=file_facts,
            )
            judged.append(Subject(component_label(component), component.bom_ref, facts))
        sbom = sbom_facts(s.facts for s in judged)
        findings.extend(judge_policy(policy, judged, sbom, moment, book, runner, passed))
    return Verdict.build(policies, counts, findings, book.uses(), passed)
