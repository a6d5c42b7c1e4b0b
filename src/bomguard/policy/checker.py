"""A static check of a parsed CEL expression against the declared variables and functions.

cel-python evaluates without a type checker, so a misspelt field would only show up as an
evaluation error on real data. This walks the parse tree with the types of
:mod:`bomguard.policy.vocabulary` and reports, before anything is evaluated:

- an undeclared variable, field or function (with a "did you mean" hint),
- a call with the wrong number or types of arguments, or an invalid literal argument
  (a PEP 440 specifier, a regular expression, a duration),
- operands that cel-python cannot combine (``1 == 1.0``, ``"a" < 1``, ``!"x"``),
- a result that is not a boolean.

Where a type is not known before evaluation (``dyn``), nothing is reported: the check
never rejects an expression that could evaluate cleanly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

import celpy.celtypes
import lark
from celpy.evaluation import celstr

from bomguard.policy.functions import parse_specifier, parse_version
from bomguard.policy.problems import ExpressionProblem
from bomguard.policy.vocabulary import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    FUNCTIONS,
    INT,
    NULL,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    VARIABLES,
    CelType,
    Function,
    list_of,
    map_of,
)

__all__ = ["ExpressionProblem", "check_expression"]

Tree: TypeAlias = "lark.Tree[lark.Token]"


_NUMERIC = frozenset({"int", "uint", "double"})
_SCALAR = frozenset({"bool", "int", "uint", "double", "string", "bytes", "timestamp", "duration"})
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_CONVERSIONS = {
    "int": INT,
    "uint": UINT,
    "double": DOUBLE,
    "string": STRING,
    "bytes": BYTES,
    "bool": BOOL,
    "timestamp": TIMESTAMP,
    "duration": DURATION,
    "dyn": DYN,
    "type": TYPE,
}
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
)
_STRING_METHODS = frozenset({"contains", "startsWith", "endsWith", "matches"})
_TIME_METHODS = frozenset(
    {"getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear"}
)
_CLOCK_METHODS = frozenset({"getHours", "getMinutes", "getSeconds", "getMilliseconds"})
_FUNCTIONS: Mapping[str, Function] = {f.name: f for f in FUNCTIONS}
_MEMBER_FUNCTIONS = frozenset(f.name for f in FUNCTIONS if f.member)
_METHODS = _MACROS | _STRING_METHODS | _TIME_METHODS | _CLOCK_METHODS | {"size"} | _MEMBER_FUNCTIONS
_ALL_VARIABLES = frozenset(v.name for v in VARIABLES)
_GLOBALS = frozenset(
    {"has", "size", "matches", *_CONVERSIONS, *(set(_FUNCTIONS) - _MEMBER_FUNCTIONS)}
)
_OPERATORS = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}


def _hint(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _offset(node: Tree | lark.Token) -> int:
    if isinstance(node, lark.Token):
        return node.start_pos or 0
    return getattr(node.meta, "start_pos", 0) or 0


def _kids(node: Tree) -> list[Tree | lark.Token]:
    return [c for c in node.children if c is not None]


def _trees(node: Tree | lark.Token | None) -> list[Tree]:
    """The expressions of an ``exprlist`` (or nothing)."""
    if not isinstance(node, lark.Tree):
        return []
    return [c for c in node.children if isinstance(c, lark.Tree)]


def _unwrap(node: Tree) -> Tree:
    """The innermost tree of a chain of single-child wrappers (expr → … → primary)."""
    while True:
        kids = _kids(node)
        if len(kids) != 1 or not isinstance(kids[0], lark.Tree):
            return node
        if node.data in {"literal", "ident", "member_dot", "member_dot_arg", "ident_arg"}:
            return node
        node = kids[0]


def _string_literal(node: Tree) -> str | None:
    """The value of an expression that is a plain string literal, else ``None``."""
    inner = _unwrap(node)
    if inner.data != "literal":
        return None
    token = inner.children[0]
    if not isinstance(token, lark.Token) or token.type not in {"STRING_LIT", "MLSTRING_LIT"}:
        return None
    try:
        return str(celstr(token))
    except Exception:  # a malformed escape: evaluation reports it
        return None


def _ident(node: Tree) -> lark.Token | None:
    """The token of an expression that is a bare identifier, else ``None``."""
    inner = _unwrap(node)
    if inner.data == "ident" and isinstance(inner.children[0], lark.Token):
        return inner.children[0]
    return None


def _same(a: CelType, b: CelType) -> bool:
    return a.runtime == b.runtime


class _Checker:
    def __init__(self, variables: Mapping[str, CelType], scope_note: str) -> None:
        self.variables = dict(variables)
        self.scope_note = scope_note
        self.problems: list[ExpressionProblem] = []

    def problem(self, where: Tree | lark.Token | int, message: str) -> CelType:
        offset = where if isinstance(where, int) else _offset(where)
        self.problems.append(ExpressionProblem(offset, message))
        return DYN

    # --- dispatch ------------------------------------------------------------------

    def visit(self, node: Tree | lark.Token | None, env: Mapping[str, CelType]) -> CelType:
        if not isinstance(node, lark.Tree):
            return DYN
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            for child in _kids(node):
                self.visit(child, env)
            return DYN
        result: CelType = handler(node, env)
        return result

    def _passthrough(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        kids = _kids(node)
        return self.visit(kids[0], env) if kids else DYN

    _member = _passthrough
    _primary = _passthrough
    _paren_expr = _passthrough

    def _expr(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        kids = _kids(node)
        if len(kids) == 1:
            return self.visit(kids[0], env)
        condition, yes, no = kids
        self.want_bool(condition, self.visit(condition, env), "the condition of '?:'")
        a, b = self.visit(yes, env), self.visit(no, env)
        return a if a.known and b.known and _same(a, b) else DYN

    def want_bool(self, node: Tree | lark.Token, kind: CelType, what: str) -> None:
        if kind.known and kind.kind != "bool":
            self.problem(node, f"{what} must be a bool, got {kind}")

    def _logical(self, node: Tree, env: Mapping[str, CelType], op: str) -> CelType:
        kids = _kids(node)
        if len(kids) == 1:
            return self.visit(kids[0], env)
        for kid in kids:
            self.want_bool(kid, self.visit(kid, env), f"each side of '{op}'")
        return BOOL

    def _conditionalor(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        return self._logical(node, env, "||")

    def _conditionaland(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        return self._logical(node, env, "&&")

    def _unary(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        kids = _kids(node)
        if len(kids) == 1:
            return self.visit(kids[0], env)
        op, operand = kids
        kind = self.visit(operand, env)
        if isinstance(op, lark.Tree) and op.data == "unary_not":
            self.want_bool(operand, kind, "the operand of '!'")
            return BOOL
        if kind.known and kind.kind not in _NUMERIC | {"duration"}:
            return self.problem(operand, f"cannot negate {kind}")
        return kind

    # --- operators -----------------------------------------------------------------

    def _binary(self, node: Tree, env: Mapping[str, CelType]) -> tuple[str, CelType, CelType]:
        op_node, right = _kids(node)
        assert isinstance(op_node, lark.Tree)
        left = self.visit(op_node.children[0], env)
        return _OPERATORS[op_node.data], left, self.visit(right, env)

    def mixed(self, node: Tree, op: str, left: CelType, right: CelType) -> CelType | None:
        """Report operands cel-python cannot combine; ``None`` when they are fine."""
        if not (left.known and right.known) or _same(left, right):
            return None
        if NULL in (left, right) and op in {"==", "!="}:
            return None
        if left.kind in _NUMERIC and right.kind in _NUMERIC:
            return self.problem(
                node,
                f"cannot apply '{op}' to {left} and {right}: cel-python does not mix "
                "numeric types; write a double literal (1.0, not 1) or convert with double()",
            )
        if left.runtime in _SCALAR or right.runtime in _SCALAR:
            return self.problem(node, f"cannot apply '{op}' to {left} and {right}")
        return None

    def _relation(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        if len(_kids(node)) == 1:
            return self.visit(_kids(node)[0], env)
        op, left, right = self._binary(node, env)
        if op == "in":
            if right.known and right.runtime not in {"list", "map"}:
                self.problem(node, f"the right side of 'in' must be a list or a map, got {right}")
            elif right.kind == "list" and right.elem is not None:
                self.mixed(node, "in", left, right.elem)
            elif right.runtime == "map" and right.key is not None:
                self.mixed(node, "in", left, right.key)
            elif right.kind == "object":
                self.mixed(node, "in", left, STRING)
            return BOOL
        self.mixed(node, op, left, right)
        return BOOL

    def _arithmetic(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        if len(_kids(node)) == 1:
            return self.visit(_kids(node)[0], env)
        op, left, right = self._binary(node, env)
        if not (left.known and right.known):
            return DYN
        pair = (left.kind, right.kind)
        if op in {"+", "-"} and pair in {("timestamp", "duration"), ("duration", "timestamp")}:
            return TIMESTAMP if op == "+" or pair[0] == "timestamp" else DYN
        if op == "-" and pair == ("timestamp", "timestamp"):
            return DURATION
        problem = self.mixed(node, op, left, right)
        if problem is not None:
            return problem
        allowed = {
            "+": _NUMERIC | {"string", "bytes", "list", "duration"},
            "-": _NUMERIC | {"duration"},
            "%": frozenset({"int", "uint"}),
        }.get(op, _NUMERIC)
        if left.kind not in allowed:
            return self.problem(node, f"cannot apply '{op}' to {left}")
        return left

    _addition = _arithmetic
    _multiplication = _arithmetic

    # --- names, fields, indexes ----------------------------------------------------

    def _ident(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        token = node.children[0]
        assert isinstance(token, lark.Token)
        return self.lookup(token, env)

    _dot_ident = _ident

    def lookup(self, token: lark.Token, env: Mapping[str, CelType]) -> CelType:
        name = str(token.value)
        if name in env:
            return env[name]
        if name in _TYPE_NAMES:
            return TYPE
        if name in _ALL_VARIABLES:
            return self.problem(token, f"undeclared reference to {name!r}: {self.scope_note}")
        return self.problem(
            token,
            f"undeclared reference to {name!r}{_hint(name, sorted(env))}: {self.scope_note}",
        )

    def select(self, receiver: CelType, token: lark.Token) -> CelType:
        name = str(token.value)
        if receiver.kind == "object":
            found = receiver.field(name)
            if found is None:
                names = [f.name for f in receiver.fields]
                return self.problem(
                    token,
                    f"no field {name!r} in {receiver.path}{_hint(name, names)} "
                    f"(fields: {', '.join(names)})",
                )
            return found.type
        if receiver.kind == "map":
            return receiver.elem or DYN
        if receiver.known:
            return self.problem(token, f"cannot select field {name!r} of {receiver}")
        return DYN

    def _member_dot(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        member, token = node.children
        assert isinstance(token, lark.Token)
        return self.select(self.visit(member, env), token)

    def _member_index(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        member, index = node.children
        receiver = self.visit(member, env)
        assert isinstance(index, lark.Tree)
        kind = self.visit(index, env)
        if receiver.kind == "list":
            if kind.known and kind.kind not in {"int", "uint"}:
                return self.problem(index, f"a list index must be an int, got {kind}")
            return receiver.elem or DYN
        if receiver.kind == "object":
            key = _string_literal(index)
            if key is not None:
                return self.select(receiver, lark.Token("IDENT", key, start_pos=_offset(index)))
            self.mixed(index, "[]", kind, STRING)
            return DYN
        if receiver.kind == "map":
            if receiver.key is not None:
                self.mixed(index, "[]", kind, receiver.key)
            return receiver.elem or DYN
        if receiver.known:
            return self.problem(node, f"cannot index {receiver}")
        return DYN

    def _member_object(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        for child in _kids(node)[1:]:
            self.visit(child, env)
        return DYN

    # --- literals ------------------------------------------------------------------

    def _literal(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        token = node.children[0]
        assert isinstance(token, lark.Token)
        return {
            "INT_LIT": INT,
            "UINT_LIT": UINT,
            "FLOAT_LIT": DOUBLE,
            "STRING_LIT": STRING,
            "MLSTRING_LIT": STRING,
            "BYTES_LIT": BYTES,
            "BOOL_LIT": BOOL,
            "NULL_LIT": NULL,
        }.get(str(token.type), DYN)

    def _list_lit(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        kinds = [self.visit(e, env) for e in _trees(_kids(node)[0] if _kids(node) else None)]
        first = kinds[0] if kinds else DYN
        same = all(k.known and _same(k, first) for k in kinds)
        return list_of(first if kinds and same else DYN)

    def _map_lit(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        for child in _trees(_kids(node)[0] if _kids(node) else None):
            self.visit(child, env)
        return map_of(DYN, DYN)

    # --- calls ---------------------------------------------------------------------

    def arity(self, token: lark.Token, args: Sequence[Tree], *counts: int) -> bool:
        if len(args) in counts:
            return True
        expected = " or ".join(str(c) for c in counts)
        self.problem(token, f"{token.value}() takes {expected} argument(s), got {len(args)}")
        return False

    def _ident_arg(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        kids = _kids(node)
        token = kids[0]
        assert isinstance(token, lark.Token)
        args = _trees(kids[1] if len(kids) > 1 and isinstance(kids[1], lark.Tree) else None)
        return self.call(token, args, env)

    _dot_ident_arg = _ident_arg

    def call(self, token: lark.Token, args: Sequence[Tree], env: Mapping[str, CelType]) -> CelType:
        name = str(token.value)
        if name == "has":
            return self.has(token, args, env)
        kinds = [self.visit(a, env) for a in args]
        if name in _MEMBER_FUNCTIONS:
            receiver = _FUNCTIONS[name].params[0][0]
            return self.problem(token, f"{name} is a method: write {receiver}.{name}(x)")
        if name in _FUNCTIONS:
            return self.custom(_FUNCTIONS[name], token, args, kinds)
        if name == "size":
            if (
                self.arity(token, args, 1)
                and kinds[0].known
                and kinds[0].runtime
                not in {
                    "string",
                    "bytes",
                    "list",
                    "map",
                }
            ):
                self.problem(args[0], f"size() takes a string, bytes, list or map, got {kinds[0]}")
            return INT
        if name == "matches":
            if self.arity(token, args, 2):
                self.want_string(args[0], kinds[0], "matches")
                self.want_regex(args[1], kinds[1])
            return BOOL
        if name in _CONVERSIONS:
            if self.arity(token, args, 1):
                self.conversion(name, args[0])
            return _CONVERSIONS[name]
        return self.problem(token, f"undeclared function {name!r}{_hint(name, sorted(_GLOBALS))}")

    def has(self, token: lark.Token, args: Sequence[Tree], env: Mapping[str, CelType]) -> CelType:
        if not self.arity(token, args, 1):
            return BOOL
        inner = _unwrap(args[0])
        if inner.data != "member_dot":
            return self.problem(args[0], "has() takes a field selection, e.g. has(m.key)")
        member, field = inner.children
        assert isinstance(field, lark.Token)
        self.select(self.visit(member, env), field)
        return BOOL

    def want_string(self, node: Tree, kind: CelType, function: str) -> bool:
        if kind.known and kind.kind != "string":
            self.problem(node, f"{function}() takes a string here, got {kind}")
            return False
        return True

    def want_regex(self, node: Tree, kind: CelType) -> None:
        if not self.want_string(node, kind, "matches"):
            return
        pattern = _string_literal(node)
        if pattern is None:
            return
        try:
            re.compile(pattern)
        except re.error as err:
            self.problem(node, f"invalid regular expression {pattern!r}: {err}")

    def conversion(self, name: str, arg: Tree) -> None:
        text = _string_literal(arg)
        if text is None or name not in {"timestamp", "duration"}:
            return
        try:
            if name == "timestamp":
                celpy.celtypes.TimestampType(text)
            else:
                celpy.celtypes.DurationType(text)
        except Exception:
            example = '"2026-01-01T00:00:00Z"' if name == "timestamp" else '"720h" (no "d" unit)'
            self.problem(arg, f"invalid {name} {text!r}: write e.g. {example}")

    def custom(
        self,
        function: Function,
        token: lark.Token,
        args: Sequence[Tree],
        kinds: Sequence[CelType],
    ) -> CelType:
        if not self.arity(token, args, len(function.params)):
            return function.result
        for (param, expected), arg, kind in zip(function.params, args, kinds, strict=True):
            if kind.known and not _same(kind, expected):
                self.problem(arg, f"{function.name}() takes {param} as {expected}, got {kind}")
                continue
            text = _string_literal(arg)
            if text is None:
                continue
            try:
                if function.name == "version_matches" and param == "specifier":
                    parse_specifier(text, function.name)
                elif function.name == "version_compare":
                    parse_version(text, function.name)
            except ValueError as err:
                self.problem(arg, str(err))
        return function.result

    def _member_dot_arg(self, node: Tree, env: Mapping[str, CelType]) -> CelType:
        kids = _kids(node)
        member, token = kids[0], kids[1]
        assert isinstance(token, lark.Token)
        args = _trees(kids[2] if len(kids) > 2 and isinstance(kids[2], lark.Tree) else None)
        receiver = self.visit(member, env)
        name = str(token.value)
        if name in _MACROS:
            return self.macro(name, token, receiver, args, env)
        kinds = [self.visit(a, env) for a in args]
        if name in _STRING_METHODS:
            if self.arity(token, args, 1):
                self.want_string(member_node(member), receiver, name)
                if name == "matches":
                    self.want_regex(args[0], kinds[0])
                else:
                    self.want_string(args[0], kinds[0], name)
            return BOOL
        if name == "size":
            self.arity(token, args, 0)
            return INT
        if name in _TIME_METHODS | _CLOCK_METHODS:
            allowed = {"timestamp"} | ({"duration"} if name in _CLOCK_METHODS else set())
            if self.arity(token, args, 0, 1) and receiver.known and receiver.kind not in allowed:
                self.problem(token, f"{name}() applies to a timestamp, not {receiver}")
            return INT
        if name in _MEMBER_FUNCTIONS:
            function = _FUNCTIONS[name]
            target = function.params[0][0]
            if receiver.known and not (receiver.kind == "object" and receiver.path == target):
                return self.problem(token, f"{name}() applies to {target}, not {receiver}")
            if self.arity(token, args, len(function.params) - 1):
                for (param, expected), arg, kind in zip(
                    function.params[1:], args, kinds, strict=True
                ):
                    if kind.known and not _same(kind, expected):
                        self.problem(arg, f"{name}() takes {param} as {expected}, got {kind}")
            return function.result
        if name in _FUNCTIONS:
            return self.problem(token, f"{name} is a function, not a method: write {name}(x, …)")
        return self.problem(token, f"undeclared method {name!r}{_hint(name, sorted(_METHODS))}")

    def macro(
        self,
        name: str,
        token: lark.Token,
        receiver: CelType,
        args: Sequence[Tree],
        env: Mapping[str, CelType],
    ) -> CelType:
        counts = (2, 3) if name == "map" else (2,)
        if not self.arity(token, args, *counts):
            return DYN
        variable = _ident(args[0])
        if variable is None:
            self.problem(args[0], f"the first argument of {name}() must be a variable name")
            return DYN
        if receiver.kind == "list":
            element = receiver.elem or DYN
        elif receiver.kind == "map":
            element = receiver.key or DYN
        elif receiver.kind == "object":
            element = STRING
        elif receiver.known:
            return self.problem(token, f"{name}() applies to a list or a map, not {receiver}")
        else:
            element = DYN
        inner = {**env, str(variable.value): element}
        kinds = [self.visit(a, inner) for a in args[1:]]
        if name in {"all", "exists", "exists_one"}:
            self.want_bool(args[1], kinds[0], f"the predicate of {name}()")
            return BOOL
        if name == "filter":
            self.want_bool(args[1], kinds[0], "the predicate of filter()")
            return receiver if receiver.kind == "list" else list_of(element)
        if len(args) == 3:
            self.want_bool(args[1], kinds[0], "the filter of map()")
        return list_of(kinds[-1])


def member_node(node: Tree | lark.Token) -> Tree:
    """A tree to report a problem of a method's receiver at."""
    assert isinstance(node, lark.Tree)
    return node


def check_expression(
    tree: Tree, variables: Mapping[str, CelType], scope_note: str
) -> tuple[CelType, list[ExpressionProblem]]:
    """The type of a parsed expression and every problem found, in text order.

    ``scope_note`` ends the message for an undeclared variable, e.g. "a component-scope
    rule sees component, sbom and now".
    """
    checker = _Checker(variables, scope_note)
    kind = checker.visit(tree, dict(variables))
    problems = sorted(checker.problems, key=lambda p: p.offset)
    return kind, problems
