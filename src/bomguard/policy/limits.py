"""Bounds on what one CEL expression may cost, checked before it is ever evaluated.

CEL has no loops, but comprehensions (``map``, ``filter``, ``all``, ``exists``,
``exists_one``) nest, so a short expression can build a list of 20⁶ elements. Neither
engine can be interrupted once it runs (cel-expr-python offers no cost limit), so every
expression is bounded up front, the same way for both engines:

- its text is at most :data:`MAX_EXPRESSION_CHARS` long and its parse tree at most
  :data:`MAX_TREE_DEPTH` deep (deeper trees would exhaust Python's stack in the checker
  or in cel-python's evaluator);
- :func:`estimate` gives an upper bound of its evaluation steps and of the number of list
  and map elements it can build, from the parse tree: a literal list has its own length,
  a value taken from the facts (``component.files``, ``component.licenses``, …) has
  :data:`NOMINAL_DATA_LENGTH` elements, and a comprehension costs its body times the
  length of what it iterates over. A policy whose bound exceeds :data:`MAX_COST` is a
  policy problem (``bomguard policy check``, and ``enrich`` refuses to start: exit 2).
- At evaluation time, a component whose facts hold a longer list or map than the nominal
  length has the bound recomputed with the real length (:func:`exceeds_for`); over the
  budget, that rule's outcome for that component is ``error`` (fail closed), and the run
  goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from bomguard.policy.model import Scope
from bomguard.policy.vocabulary import CelType

if TYPE_CHECKING:  # imported where parse trees are walked: judging needs none
    import lark

__all__ = [
    "MAX_COST",
    "MAX_EXPRESSION_CHARS",
    "MAX_TREE_DEPTH",
    "NOMINAL_DATA_LENGTH",
    "Bound",
    "data_length",
    "data_sensitive",
    "estimate",
    "exceeds_for",
    "over_budget",
    "text_problem",
    "tree_depth",
]

Tree: TypeAlias = "lark.Tree[lark.Token]"

#: Longest expression text accepted (the longest in ``policies/`` is under 300).
MAX_EXPRESSION_CHARS = 8192
#: Deepest parse tree accepted. Each level of parentheses adds about ten levels; the
#: deepest expression in ``policies/`` has 44.
MAX_TREE_DEPTH = 250
#: Evaluation steps and built elements one expression may need on one subject.
MAX_COST = 1_000_000
#: How many elements a list or map from the facts is assumed to have when a policy is
#: checked (real components rarely list more than a few files, licenses or properties).
NOMINAL_DATA_LENGTH = 32

_SCALAR_CALLS = frozenset(
    {
        "size",
        "has",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
        "int",
        "uint",
        "double",
        "bool",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "type",
    }
)
_ITERATING = frozenset({"all", "exists", "exists_one"})


@dataclass(frozen=True, slots=True)
class Bound:
    """Upper bounds for one sub-expression's value and for evaluating it.

    ``length``: elements at the top level (what a comprehension iterates over);
    ``size``: elements at every level; ``cost``: evaluation steps; ``elem``: the bound of
    one element (``None`` for a scalar, :data:`_DATA` marks facts all the way down).
    """

    length: int
    size: int
    cost: int
    elem: Bound | None = None
    data: bool = False
    ctype: CelType | None = None
    """The declared type of a value taken from the facts (``None``: a computed value)."""


def _cap(value: int) -> int:
    # Keep the arithmetic cheap: anything past the budget is "too much" anyway.
    return min(value, MAX_COST * 1000)


def _scalar(cost: int) -> Bound:
    return Bound(0, 1, _cap(cost))


def _join(a: Bound | None, b: Bound | None) -> Bound | None:
    """A bound covering both (for list elements of mixed shape)."""
    if a is None:
        return b
    if b is None:
        return a
    return Bound(
        max(a.length, b.length),
        max(a.size, b.size),
        max(a.cost, b.cost),
        _join(a.elem, b.elem) if not (a.data or b.data) else None,
        a.data or b.data,
        a.ctype if a.ctype == b.ctype else None,
    )


class _Estimator:
    def __init__(self, data_length: int, variables: Mapping[str, CelType]) -> None:
        self.length = data_length
        self.data = Bound(data_length, data_length, 1, None, True)
        self.variables = variables
        self.types: dict[CelType, Bound] = {}

    def typed(self, ctype: CelType) -> Bound:
        """The bound of a fact of a declared type: every list or map of the facts has
        up to ``data_length`` elements."""
        if ctype in self.types:
            return self.types[ctype]
        if ctype.kind in ("list", "map"):
            elem = self.typed(ctype.elem) if ctype.elem is not None else self.data
            size = _cap(self.length * (1 + elem.size))
            bound = Bound(self.length, size, 1, elem, False, ctype)
        elif ctype.kind == "object":
            size = sum(1 + self.typed(f.type).size for f in ctype.fields)
            bound = Bound(len(ctype.fields), _cap(size), 1, None, False, ctype)
        elif ctype.kind == "dyn":
            bound = self.data
        else:
            bound = _scalar(1)
        self.types[ctype] = bound
        return bound

    def element(self, bound: Bound) -> Bound:
        """What indexing ``bound`` gives."""
        if bound.data:
            return self.data
        if bound.ctype is not None and bound.ctype.kind == "object":
            widest: Bound | None = None
            for field in bound.ctype.fields:
                widest = _join(widest, self.typed(field.type))
            return widest or _scalar(1)
        return bound.elem or _scalar(1)

    def iterated(self, bound: Bound) -> Bound:
        """What a comprehension over ``bound`` binds its variable to (a map's keys)."""
        if bound.ctype is not None and bound.ctype.kind in ("map", "object"):
            return _scalar(1)
        return self.element(bound)

    def visit(self, node: Tree | lark.Token | None, env: Mapping[str, Bound]) -> Bound:
        import lark

        if not isinstance(node, lark.Tree):
            return _scalar(1)
        kids = [c for c in node.children if c is not None]
        handler = getattr(self, f"_{node.data}", None)
        if handler is not None:
            result: Bound = handler(node, kids, env)
            return result
        if len(kids) == 1:
            return self.visit(kids[0], env)
        parts = [self.visit(k, env) for k in kids]
        return self.operator(parts)

    def operator(self, parts: list[Bound]) -> Bound:
        """A binary or unary operator: scalar result, linear in its operands' sizes."""
        return _scalar(1 + sum(p.cost + p.size for p in parts))

    def _expr(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        if len(kids) == 1:
            return self.visit(kids[0], env)
        condition, yes, no = (self.visit(k, env) for k in kids)
        joined = _join(yes, no)
        assert joined is not None
        return Bound(
            joined.length,
            joined.size,
            _cap(condition.cost + max(yes.cost, no.cost)),
            joined.elem,
            joined.data,
        )

    def _addition(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        if len(kids) == 1:
            return self.visit(kids[0], env)
        op, right_node = kids
        left = self.visit(op.children[0], env)
        right = self.visit(right_node, env)
        if op.data == "addition_add" and (left.length or right.length):
            # List (or string) concatenation: the result holds both.
            elem = None if left.data or right.data else _join(left.elem, right.elem)
            return Bound(
                _cap(left.length + right.length),
                _cap(left.size + right.size),
                _cap(1 + left.cost + right.cost + left.size + right.size),
                elem,
                left.data or right.data,
            )
        return self.operator([left, right])

    def _binary(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        if len(kids) == 1:
            return self.visit(kids[0], env)
        op, right_node = kids
        return self.operator([self.visit(op.children[0], env), self.visit(right_node, env)])

    _relation = _binary
    _multiplication = _binary

    def _literal(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        return _scalar(1)

    def _ident(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        name = str(kids[0]) if kids else ""
        if name in env:
            return env[name]
        if name in self.variables:
            return self.typed(self.variables[name])
        return self.data

    def _dot_ident(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        return self.data

    def _member_dot(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        receiver = self.visit(kids[0], env)
        if receiver.ctype is not None and receiver.ctype.kind == "object":
            field = receiver.ctype.field(str(kids[1]))
            if field is not None:
                return self.typed(field.type)
        return self.element(receiver)

    def _member_index(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        receiver = self.visit(kids[0], env)
        index = self.visit(kids[1], env)
        got = self.element(receiver)
        return Bound(
            got.length,
            got.size,
            _cap(receiver.cost + index.cost + got.cost + 1),
            got.elem,
            got.data,
        )

    def _member_object(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        parts = [self.visit(k, env) for k in kids[1:]]
        return Bound(
            len(parts), sum(1 + p.size for p in parts), _cap(1 + sum(p.cost for p in parts))
        )

    def _list_lit(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        items = _exprs(kids[0] if kids else None)
        parts = [self.visit(i, env) for i in items]
        elem: Bound | None = None
        data = False
        for part in parts:
            data = data or part.data
            elem = _join(elem, part)
        return Bound(
            len(parts),
            _cap(sum(1 + p.size for p in parts)),
            _cap(1 + sum(p.cost for p in parts) + len(parts)),
            elem,
            False,
        )

    def _map_lit(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        items = _exprs(kids[0] if kids else None)
        parts = [self.visit(i, env) for i in items]
        values = parts[1::2]
        elem: Bound | None = None
        for part in values:
            elem = _join(elem, part)
        return Bound(
            len(values),
            _cap(sum(1 + p.size for p in parts)),
            _cap(1 + sum(p.cost for p in parts) + len(parts)),
            elem,
            False,
        )

    def _ident_arg(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        name = str(kids[0])
        args = [self.visit(a, env) for a in _exprs(kids[1] if len(kids) > 1 else None)]
        return self.call(name, args)

    _dot_ident_arg = _ident_arg

    def call(self, name: str, args: list[Bound]) -> Bound:
        cost = _cap(1 + sum(a.cost + a.size for a in args))
        if name == "dyn" and len(args) == 1:
            only = args[0]
            return Bound(only.length, only.size, cost, only.elem, only.data)
        if name in _SCALAR_CALLS or not args:
            return _scalar(cost)
        # Anything else (declared functions) returns a scalar too; stay conservative
        # about its size in case it hands one of its arguments back.
        widest = max(args, key=lambda a: a.size)
        return Bound(widest.length, widest.size, cost, widest.elem, widest.data)

    def _member_dot_arg(self, node: Tree, kids: list[Any], env: Mapping[str, Bound]) -> Bound:
        receiver = self.visit(kids[0], env)
        name = str(kids[1])
        args = _exprs(kids[2] if len(kids) > 2 else None)
        if name in ("map", "filter", *_ITERATING) and len(args) in (2, 3):
            variable = _ident_name(args[0])
            inner = {**env, variable: self.iterated(receiver)} if variable else dict(env)
            body = [self.visit(a, inner) for a in args[1:]]
            per_item = 1 + sum(b.cost for b in body)
            cost = _cap(receiver.cost + receiver.length * per_item)
            if name in _ITERATING:
                return _scalar(cost)
            if name == "filter":
                return Bound(
                    receiver.length,
                    receiver.size,
                    _cap(cost + receiver.size),
                    receiver.elem,
                    receiver.data,
                )
            result = body[-1]
            size = _cap(receiver.length * (1 + result.size))
            return Bound(receiver.length, size, _cap(cost + size), result, False)
        bounds = [self.visit(a, env) for a in args]
        return self.call(name, [receiver, *bounds])


def _exprs(node: Tree | lark.Token | None) -> list[Tree]:
    import lark

    if not isinstance(node, lark.Tree):
        return []
    return [c for c in node.children if isinstance(c, lark.Tree)]


def _ident_name(node: Tree) -> str | None:
    import lark

    current: Tree | lark.Token = node
    while isinstance(current, lark.Tree):
        kids = [c for c in current.children if c is not None]
        if current.data == "ident" and kids:
            return str(kids[0])
        if len(kids) != 1:
            return None
        current = kids[0]
    return None


def text_problem(text: str) -> str | None:
    """Why an expression's text is refused before parsing (too long), or ``None``."""
    if len(text) > MAX_EXPRESSION_CHARS:
        return (
            f"expression is {len(text)} characters long, over the limit of {MAX_EXPRESSION_CHARS}"
        )
    return None


def tree_depth(tree: Tree) -> int:
    """How deep a parse tree is (computed without recursion)."""
    import lark

    deepest = 0
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, lark.Tree):
            stack.extend((child, depth + 1) for child in node.children)
    return deepest


def estimate(
    tree: Tree, variables: Mapping[str, CelType], data_length: int = NOMINAL_DATA_LENGTH
) -> Bound:
    """An upper bound of evaluating the parse tree over facts of the declared
    ``variables`` types (its depth must be checked first)."""
    return _Estimator(data_length, variables).visit(tree, {})


def over_budget(bound: Bound) -> str | None:
    """Why a bound is over :data:`MAX_COST`, or ``None``."""
    if bound.cost > MAX_COST:
        return f"may take over {MAX_COST:,} evaluation steps (estimated {_shown(bound.cost)})"
    if bound.size > MAX_COST:
        return f"may build over {MAX_COST:,} list elements (estimated {_shown(bound.size)})"
    return None


def _shown(value: int) -> str:
    return f"{value:,}" if value < MAX_COST * 1000 else f"over {MAX_COST * 1000:,}"


def data_length(facts: object) -> int:
    """The length of the longest list or map in JSON-like facts."""
    if not isinstance(facts, (dict, list)):
        return 0
    longest = 0
    stack: list[dict[Any, Any] | list[Any]] = [facts]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        longest = max(longest, len(node))
        for value in node.values() if isinstance(node, dict) else node:
            kind = type(value)
            if kind is str or kind is bool or kind is int or value is None:
                continue  # the usual leaves, skipped before the costlier test below
            if isinstance(value, (dict, list)):
                push(value)
    return longest


@functools.lru_cache(maxsize=1024)
def data_sensitive(text: str, scope: Scope) -> bool:
    """Whether the bound of ``text`` grows with the length of the facts' lists (it
    iterates over or compares one); only then are a subject's facts measured."""
    from bomguard.policy.evaluation import parse
    from bomguard.policy.vocabulary import variables_for

    variables = {name: v.type for name, v in variables_for(scope).items()}
    tree = parse(text)
    nominal = estimate(tree, variables, NOMINAL_DATA_LENGTH)
    longer = estimate(tree, variables, NOMINAL_DATA_LENGTH * 4)
    return (nominal.cost, nominal.size) != (longer.cost, longer.size)


@functools.lru_cache(maxsize=1024)
def exceeds_for(text: str, scope: Scope, length: int) -> str | None:
    """Why ``text`` would exceed the budget on facts whose longest list has ``length``
    elements (``None`` when it would not, or when ``length`` is within the nominal one
    the expression was already checked with)."""
    if length <= NOMINAL_DATA_LENGTH:
        return None
    from bomguard.policy.evaluation import parse
    from bomguard.policy.vocabulary import variables_for

    variables = {name: v.type for name, v in variables_for(scope).items()}
    return over_budget(estimate(parse(text), variables, length))
