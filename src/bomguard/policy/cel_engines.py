"""CEL engines: cel-python (the default) and, optionally, cel-expr-python (CEL's C++ runtime).

Both sit behind one interface. Whichever engine runs, every expression is first parsed
and checked by :mod:`bomguard.policy.checker` against the declared variables and
functions, so the problems reported at load time do not depend on the engine; the
engine then compiles what passed and evaluates it. Outcomes are the same with either
engine (a test compares them); the text of an evaluation error may differ.

``auto`` picks cel-expr-python when it is installed (``pip install cel-expr-python``),
else cel-python.
"""

from __future__ import annotations

import abc
import datetime as dt
import functools
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

import celpy
import celpy.celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

from bomguard.errors import InputError
from bomguard.policy.checker import ExpressionProblem
from bomguard.policy.facts import sample_component_facts, sbom_facts
from bomguard.policy.functions import BINDINGS, PLAIN
from bomguard.policy.model import Scope
from bomguard.policy.vocabulary import FUNCTIONS, CelType

__all__ = ["ENGINE_NAMES", "Engine", "describe_error", "get_engine"]

ENGINE_NAMES = ("auto", "python", "cpp")
"""What ``--cel-engine`` accepts."""

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

    @abc.abstractmethod
    def compile(
        self, text: str, ast: Any, scope: Scope
    ) -> tuple[Any, tuple[ExpressionProblem, ...]]:
        """A program for an expression the checker passed (``ast`` is cel-python's parse
        tree), or ``None`` and the problems the engine found."""

    @abc.abstractmethod
    def bind(self, variables: Mapping[str, Any]) -> Any:
        """An activation from plain values: ``component``/``sbom`` maps, ``now`` datetime."""

    @abc.abstractmethod
    def run(self, program: Any, activation: Any) -> tuple[bool, str | None]:
        """``(value, None)``, or ``(False, one-line error)`` when it cannot be evaluated."""


class CelPythonEngine(Engine):
    """cel-python's tree-walking interpreter (its InterpretedRunner)."""

    name = "python"

    def __init__(self) -> None:
        from bomguard.policy._celparser import prepare

        prepare()  # the grammar's parser, built once per user (see _celparser)
        # celpy raises the recursion limit when an Environment is made; never lower it.
        limit = sys.getrecursionlimit()
        self.env = celpy.Environment(runner_class=celpy.InterpretedRunner)
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
        program = self.env.program(ast, functions=BINDINGS)
        try:
            value = program.evaluate(self._probe(scope))
        except Exception:  # data-dependent: judged per component, where it fails closed
            return program, ()
        if not isinstance(value, (celpy.celtypes.BoolType, CELEvalError)):
            message = f"must be a boolean expression, got {_type_name(value)}"
            return None, (ExpressionProblem(0, message),)
        return program, ()

    def bind(self, variables: Mapping[str, Any]) -> Any:
        activation: dict[str, Any] = {}
        for name, value in variables.items():
            if isinstance(value, dt.datetime):
                activation[name] = celpy.celtypes.TimestampType(value)
            else:
                activation[name] = json_to_cel(value)
        return activation

    def run(self, program: Any, activation: Any) -> tuple[bool, str | None]:
        try:
            value = program.evaluate(activation)
        except Exception as err:  # fail closed: any failure is reported, never raised
            return False, describe_error(err)
        if isinstance(value, CELEvalError):
            return False, describe_error(value)
        if not isinstance(value, celpy.celtypes.BoolType):
            return False, f"expected a boolean result, got {_type_name(value)}"
        return bool(value), None


class CelCppEngine(Engine):
    """cel-expr-python: CEL's C++ runtime, type-checked against the declared variables."""

    name = "cpp"

    def __init__(self) -> None:
        cel: Any = importlib.import_module("cel_expr_python.cel")
        self.cel = cel
        self._bool, self._error = cel.Type.BOOL, cel.Type.ERROR
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
        dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
        self.envs = {
            Scope.COMPONENT: cel.NewEnv(
                variables={"component": dyn_map, "sbom": dyn_map, "now": cel.Type.TIMESTAMP},
                functions=declarations,
            ),
            Scope.SBOM: cel.NewEnv(
                variables={"sbom": dyn_map, "now": cel.Type.TIMESTAMP},
                functions=declarations,
            ),
        }

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
            program = self.envs[scope].compile(text)
        except Exception as err:  # the C++ checker's own verdict, as one line
            return None, (ExpressionProblem(0, one_line(str(err))),)
        result = program.return_type()
        if result not in (self.cel.Type.BOOL, self.cel.Type.DYN):
            message = f"must be a boolean expression, got {result.name().lower()}"
            return None, (ExpressionProblem(0, message),)
        return program, ()

    def bind(self, variables: Mapping[str, Any]) -> Any:
        # Convert the facts to CEL values once per subject, not once per rule.
        scope = Scope.COMPONENT if "component" in variables else Scope.SBOM
        return self.envs[scope].Activation(data=dict(variables))

    def run(self, program: Any, activation: Any) -> tuple[bool, str | None]:
        try:
            value = program.eval(activation=activation)
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
