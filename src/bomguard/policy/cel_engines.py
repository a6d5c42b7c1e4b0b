"""CEL engines: cel-python (the default) and, optionally, cel-expr-python (CEL's C++ runtime).

Both sit behind one interface. Whichever engine runs, every expression is first parsed
and checked by :mod:`bomguard.policy.checker` against the declared variables and
functions, so the problems reported at load time do not depend on the engine; the
engine then compiles what passed and evaluates it. Outcomes are the same with either
engine (a test compares them); the text of an evaluation error may differ.

``auto`` picks cel-expr-python when it is installed (``pip install cel-expr-python``),
else cel-python. Each engine imports its library when it is made, so a run on one
engine never pays for importing the other.
"""

from __future__ import annotations

import abc
import datetime as dt
import functools
import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from bomguard.errors import InputError
from bomguard.policy.facts import sample_component_facts, sbom_facts
from bomguard.policy.functions import PLAIN, bindings
from bomguard.policy.model import Scope
from bomguard.policy.problems import ExpressionProblem
from bomguard.policy.vocabulary import FUNCTIONS, CelType

__all__ = ["ENGINE_NAMES", "Engine", "describe_error", "get_engine", "resolved_name"]

ENGINE_NAMES = ("auto", "python", "cpp")
"""What ``--cel-engine`` accepts."""

#: What :meth:`Engine.run_combined` says of one rule.
NOT_APPLICABLE, HOLDS, FAILS = 0, 1, 2
#: Rules per combined program: each takes two bits of one 64-bit CEL int.
_COMBINED_RULES = 30

_MAX_ERROR_TEXT = 300
_PROBE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def one_line(text: str) -> str:
    """``text`` on one line, shortened to a sane length."""
    text = " ".join(text.split())
    if len(text) > _MAX_ERROR_TEXT:
        text = text[: _MAX_ERROR_TEXT - 1] + "…"
    return text


def describe_error(err: BaseException) -> str:
    """One line saying why an expression could not be evaluated (cel-python)."""
    from celpy.evaluation import CELEvalError

    if isinstance(err, CELEvalError):
        args = err.args
        text = str(args[0]) if args else "evaluation error"
        # celpy appends a dump of the whole activation to undeclared references.
        text = text.split(" (in activation", 1)[0]
        details = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
        extra = "; ".join(str(d) for d in details if str(d) and str(d) not in text)
        return one_line(f"{text} ({extra})" if extra else text)
    return one_line(f"{type(err).__name__}: {err}")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    name = type(value).__name__
    return name.removesuffix("Type").lower() or name


class Engine(abc.ABC):
    """Compiles checked CEL expressions and evaluates them over plain (JSON-like) facts."""

    name: str
    #: Whether :meth:`compile` needs the parse tree (else it is given ``None``).
    needs_tree: bool = True

    @abc.abstractmethod
    def compile(
        self, text: str, ast: Any, scope: Scope
    ) -> tuple[Any, tuple[ExpressionProblem, ...]]:
        """A program for an expression the checker passed (``ast`` is cel-python's parse
        tree), or ``None`` and the problems the engine found."""

    @abc.abstractmethod
    def bind(self, variables: Mapping[str, Any], shared: Any = None) -> Any:
        """An activation from plain values: ``component``/``sbom`` maps, ``now`` datetime.

        ``shared`` is an activation :meth:`bind` made earlier (of ``sbom`` and ``now``,
        say): its variables are reused as they are, not converted again.
        """

    @abc.abstractmethod
    def run(self, program: Any, activation: Any) -> tuple[bool, str | None]:
        """``(value, None)``, or ``(False, one-line error)`` when it cannot be evaluated."""

    def combine(self, rules: Sequence[tuple[str | None, str]], scope: Scope) -> Any:
        """One program judging several checked rules (``(when, require)`` texts) at once,
        for :meth:`run_combined`; ``None`` when the engine has none (the default)."""
        return None

    def run_combined(self, program: Any, activation: Any) -> list[int] | None:
        """What each rule of a :meth:`combine` program said: :data:`NOT_APPLICABLE`,
        :data:`HOLDS` or :data:`FAILS` per rule, in order; or ``None`` when anything went
        wrong (an error in any rule, a non-boolean), and each rule must be run alone."""
        return None


@functools.cache
def _runner_class() -> type:
    """cel-python's interpreter, with the environment's activation built once per program.

    cel-python's own runner builds that activation (every type name's annotation) anew
    for each evaluation and then copies it to bind the variables; here each evaluation
    binds its variables in an activation nested on the one built once, as cel-python
    does itself for a macro's variable. Name resolution is the same: the variables
    first, then the environment.
    """
    import celpy
    from celpy.evaluation import Evaluator

    class _Runner(celpy.InterpretedRunner):
        _base: Any = None

        def evaluate(self, context: Any) -> Any:
            if self._base is None:
                self._base = self.new_activation()
            activation = self._base.nested_activation(vars=context)
            return Evaluator(ast=self.ast, activation=activation).evaluate(None)

    return _Runner


class CelPythonEngine(Engine):
    """cel-python's tree-walking interpreter (its InterpretedRunner)."""

    name = "python"

    def __init__(self) -> None:
        import celpy
        import celpy.celtypes
        from celpy.adapter import json_to_cel
        from celpy.evaluation import CELEvalError

        from bomguard.policy._celparser import prepare

        self._bool, self._error = celpy.celtypes.BoolType, CELEvalError
        self._timestamp, self._to_cel = celpy.celtypes.TimestampType, json_to_cel
        prepare()  # the grammar's parser, built once per user (see _celparser)
        # celpy raises the recursion limit when an Environment is made; never lower it.
        limit = sys.getrecursionlimit()
        self.env = celpy.Environment(runner_class=_runner_class())
        sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
        self.probes: dict[Scope, Any] = {}

    def _probe(self, scope: Scope) -> Any:
        """An activation with every key present and every list non-empty."""
        if scope not in self.probes:
            component = sample_component_facts()
            variables: dict[str, Any] = {"sbom": sbom_facts([component]), "now": _PROBE_TIME}
            if scope is Scope.COMPONENT:
                variables["component"] = component
            self.probes[scope] = self.bind(variables)
        return self.probes[scope]

    def compile(
        self, text: str, ast: Any, scope: Scope
    ) -> tuple[Any, tuple[ExpressionProblem, ...]]:
        program = self.env.program(ast, functions=bindings())
        try:
            value = program.evaluate(self._probe(scope))
        except Exception:  # data-dependent: judged per component, where it fails closed
            return program, ()
        if not isinstance(value, (self._bool, self._error)):
            message = f"must be a boolean expression, got {_type_name(value)}"
            return None, (ExpressionProblem(0, message),)
        return program, ()

    def bind(self, variables: Mapping[str, Any], shared: Any = None) -> Any:
        activation: dict[str, Any] = dict(shared) if shared is not None else {}
        for name, value in variables.items():
            if isinstance(value, dt.datetime):
                activation[name] = self._timestamp(value)
            else:
                activation[name] = self._to_cel(value)
        return activation

    def run(self, program: Any, activation: Any) -> tuple[bool, str | None]:
        try:
            value = program.evaluate(activation)
        except Exception as err:  # fail closed: any failure is reported, never raised
            return False, describe_error(err)
        if isinstance(value, self._error):
            return False, describe_error(value)
        if not isinstance(value, self._bool):
            return False, f"expected a boolean result, got {_type_name(value)}"
        return bool(value), None


class CelCppEngine(Engine):
    """cel-expr-python: CEL's C++ runtime, type-checked against the declared variables."""

    name = "cpp"
    needs_tree = False

    def __init__(self) -> None:
        cel: Any = importlib.import_module("cel_expr_python.cel")
        self.cel = cel
        self._bool, self._error, self._int = cel.Type.BOOL, cel.Type.ERROR, cel.Type.INT
        declarations = [
            cel.FunctionDecl(
                f.name,
                [
                    cel.Overload(
                        f"bomguard_{f.name}",
                        return_type=self._type(f.result),
                        parameters=[self._type(t) for _, t in f.params],
                        is_member=f.member,
                        impl=PLAIN[f.name],
                    )
                ],
            )
            for f in FUNCTIONS
        ]
        self._declarations = declarations
        self._envs: dict[Scope, Any] = {}

    def env(self, scope: Scope) -> Any:
        """The environment of ``scope``'s variables (made on first use: a run whose rules
        all judge components never makes the SBOM one)."""
        env = self._envs.get(scope)
        if env is None:
            cel = self.cel
            dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
            variables = {"sbom": dyn_map, "now": cel.Type.TIMESTAMP}
            if scope is Scope.COMPONENT:
                variables = {"component": dyn_map, **variables}
            env = self._envs[scope] = cel.NewEnv(variables=variables, functions=self._declarations)
        return env

    def _type(self, kind: CelType) -> Any:
        if kind.kind == "object":
            return self.cel.Type.Map(self.cel.Type.STRING, self.cel.Type.DYN)
        return {
            "bool": self.cel.Type.BOOL,
            "int": self.cel.Type.INT,
            "double": self.cel.Type.DOUBLE,
            "string": self.cel.Type.STRING,
        }.get(kind.kind, self.cel.Type.DYN)

    def compile(
        self, text: str, ast: Any, scope: Scope
    ) -> tuple[Any, tuple[ExpressionProblem, ...]]:
        try:
            program = self.env(scope).compile(text)
        except Exception as err:  # the C++ checker's own verdict, as one line
            return None, (ExpressionProblem(0, one_line(str(err))),)
        result = program.return_type()
        if result not in (self.cel.Type.BOOL, self.cel.Type.DYN):
            message = f"must be a boolean expression, got {result.name().lower()}"
            return None, (ExpressionProblem(0, message),)
        return program, ()

    def bind(self, variables: Mapping[str, Any], shared: Any = None) -> Any:
        # The runtime converts each variable to CEL values once per activation (when an
        # expression first reads it), not once per rule.
        data = {**shared[1], **variables} if shared is not None else dict(variables)
        scope = Scope.COMPONENT if "component" in data else Scope.SBOM
        return self.env(scope).Activation(data=data), data

    def combine(self, rules: Sequence[tuple[str | None, str]], scope: Scope) -> Any:
        # One CEL int, two bits per rule. Any error or non-boolean in any rule makes the
        # whole expression an error (a ternary's condition must be a bool, and an error
        # operand makes the sum an error), and run_combined says so: the caller then runs
        # each rule alone, so an error is reported as that rule's, never as a pass.
        if not rules or len(rules) > _COMBINED_RULES:
            return None
        terms = []
        for position, (when, require) in enumerate(rules):
            shift = 4**position
            term = f"(({require}\n) ? {HOLDS * shift} : {FAILS * shift})"
            if when is not None:
                term = f"(({when}\n) ? {term} : {NOT_APPLICABLE})"
            terms.append(term)
        try:
            program = self.env(scope).compile(" + ".join(terms))
        except Exception:  # the rules alone compiled: judge them one by one
            return None
        if program.return_type() != self.cel.Type.INT:
            return None
        return program, len(rules)

    def run_combined(self, program: Any, activation: Any) -> list[int] | None:
        compiled, count = program
        try:
            value = compiled.eval(activation=activation[0])
        except Exception:  # judged one by one, where it fails closed
            return None
        if value.type() != self._int:
            return None
        packed = value.value()
        return [(packed >> (2 * position)) & 3 for position in range(count)]

    def run(self, program: Any, activation: Any) -> tuple[bool, str | None]:
        try:
            value = program.eval(activation=activation[0])
        except Exception as err:  # fail closed
            return False, one_line(f"{type(err).__name__}: {err}")
        kind = value.type()
        if kind == self._bool:  # the usual case first; enum lookups through pybind are slow
            return bool(value.value()), None
        if kind == self._error:
            return False, one_line(str(value.value()))
        return False, f"expected a boolean result, got {kind.name().lower()}"


def cpp_available() -> bool:
    """Whether cel-expr-python is installed."""
    return importlib.util.find_spec("cel_expr_python") is not None


@functools.cache
def _engine(name: str) -> Engine:
    if name == "cpp":
        return CelCppEngine()
    return CelPythonEngine()


def resolved_name(name: str | Engine | None) -> str | None:
    """The name of the engine :func:`get_engine` gives for ``name``, without making it;
    ``None`` where it raises."""
    if isinstance(name, Engine):
        return name.name
    choice = name or "python"
    if choice == "auto":
        choice = "cpp" if cpp_available() else "python"
    if choice not in ENGINE_NAMES or (choice == "cpp" and not cpp_available()):
        return None
    return choice


def get_engine(name: str | Engine | None = None) -> Engine:
    """The engine called ``name`` (``auto``, ``python`` or ``cpp``); ``None`` is ``python``.

    Raises :class:`InputError` for an unknown name, or for ``cpp`` when cel-expr-python is
    not installed.
    """
    if isinstance(name, Engine):
        return name
    choice = name or "python"
    if choice not in ENGINE_NAMES:
        raise InputError(f"unknown CEL engine {choice!r} (one of {', '.join(ENGINE_NAMES)})")
    if choice == "auto":
        choice = "cpp" if cpp_available() else "python"
    if choice == "cpp" and not cpp_available():
        raise InputError(
            "the cpp CEL engine needs cel-expr-python",
            hint="pip install cel-expr-python, or use --cel-engine python",
        )
    return _engine(choice)
