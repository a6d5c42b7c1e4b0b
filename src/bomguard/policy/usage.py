"""Which ``component`` facts a policy can read, found from its expressions' typed parse trees.

Evaluation binds to CEL only the facts a policy's expressions can read (and builds only
those of the costly top-level ones), so what no rule reads is neither computed nor
converted to the engine's values.

The analysis is conservative. With the checker's types (:mod:`bomguard.policy.checker`),
every place an object of the ``component`` facts (``component`` itself,
``component.provenance``, a file of ``component.provenance.files``, …) is produced must
be a use that reads it field by field:

- an object must be the receiver of a field selection (``x.f``, ``x["f"]``) or the
  argument of ``has()``;
- a list of objects must be the receiver of ``all``, ``exists``, ``exists_one``,
  ``filter``, ``map``, ``size`` or of an index (their results are themselves checked).

Then every object keeps only the fields some expression selects on objects of its kind
(``component.provenance.publisher`` and a file's ``publisher`` are kinds of their own);
lists keep every element. Any other use (an object passed to a function or method such as
``component.depends_on(…)``, compared, put in a list, iterated over its keys, chosen by
``?:``, a computed key) makes :func:`policy_usage` ``None``: everything is bound, as
without the analysis. An expression therefore cannot tell the trimmed facts from the full
ones: every key it can read is there, with the same value, and every list is as long.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from bomguard.policy.limits import data_length
from bomguard.policy.model import Scope
from bomguard.policy.vocabulary import COMPONENT, CelType, variables_for

__all__ = ["Usage", "component_keys", "policy_usage", "trimmer"]

if TYPE_CHECKING:
    import lark

Tree: TypeAlias = "lark.Tree[lark.Token]"

Usage: TypeAlias = Mapping[str, frozenset[str]]
"""The fields read, by object kind (its path, e.g. ``component.provenance``)."""

# Nodes that only pass their one child's value on.
_WRAPPERS = frozenset(
    {
        "member",
        "primary",
        "paren_expr",
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
    }
)
# Nodes that produce a value from something else (where an object can come from).
_PRODUCERS = frozenset(
    {"ident", "member_dot", "member_index", "member_dot_arg", "ident_arg", "expr"}
)
_LIST_METHODS = frozenset({"all", "exists", "exists_one", "filter", "map", "size"})


def _holds_facts(kind: CelType | None) -> bool:
    """Whether values of ``kind`` are, or hold, objects of the ``component`` facts."""
    if kind is None:
        return False
    if kind.kind == "object":
        return kind.path == "component" or kind.path.startswith("component.")
    if kind.kind in {"list", "map"}:
        return _holds_facts(kind.elem)
    return False


@functools.cache
def _recorder_class() -> type:
    """The checker, remembering the type it found for every node (made on first use:
    the checker imports cel-python, which trimming facts does not need)."""
    import lark

    from bomguard.policy.checker import _Checker

    class _Recorder(_Checker):
        def __init__(self, variables: Mapping[str, CelType]) -> None:
            super().__init__(variables, "")
            self.types: dict[int, CelType] = {}

        def visit(self, node: Tree | lark.Token | None, env: Mapping[str, CelType]) -> CelType:
            kind = super().visit(node, env)
            if isinstance(node, lark.Tree):
                self.types[id(node)] = kind
            return kind

    return _Recorder


def _kids(node: Tree) -> list[Tree | lark.Token]:
    return [c for c in node.children if c is not None]


def _usage(tree: Tree) -> dict[str, set[str]] | None:
    import lark

    from bomguard.policy.checker import _string_literal

    variables = {name: v.type for name, v in variables_for(Scope.COMPONENT).items()}
    recorder: Any = _recorder_class()(variables)
    recorder.visit(tree, dict(variables))
    if recorder.problems:
        return None
    parents: dict[int, Tree] = {}
    for node in tree.iter_subtrees():
        for child in node.children:
            if isinstance(child, lark.Tree):
                parents[id(child)] = node
    read: dict[str, set[str]] = {}
    for node in tree.iter_subtrees():
        kind = recorder.types.get(id(node))
        if node.data not in _PRODUCERS or not _holds_facts(kind):
            continue
        if node.data == "expr" and len(_kids(node)) == 1:
            continue  # a wrapper
        assert kind is not None
        child, parent = node, parents.get(id(node))
        while parent is not None and parent.data in _WRAPPERS and len(_kids(parent)) == 1:
            child, parent = parent, parents.get(id(parent))
        if parent is None:
            return None  # the expression's value itself
        receiver = bool(parent.children) and parent.children[0] is child
        if kind.kind == "object":
            if receiver and parent.data == "member_dot":
                read.setdefault(kind.path, set()).add(str(parent.children[1]))
                continue
            if receiver and parent.data == "member_index":
                key = parent.children[1]
                name = _string_literal(key) if isinstance(key, lark.Tree) else None
                if name is None:
                    return None
                read.setdefault(kind.path, set()).add(name)
                continue
            if _argument_of(parent, parents, "has"):
                continue
            return None
        if kind.kind == "list":
            if receiver and parent.data == "member_index":
                continue
            if receiver and parent.data == "member_dot_arg":
                if str(parent.children[1]) in _LIST_METHODS:
                    continue
                return None
            if _argument_of(parent, parents, "size"):
                continue
        return None
    return read


def _argument_of(node: Tree, parents: Mapping[int, Tree], function: str) -> bool:
    """Whether ``node`` is the argument list of a call of the global ``function``."""
    call = parents.get(id(node))
    return (
        node.data == "exprlist"
        and call is not None
        and call.data == "ident_arg"
        and str(call.children[0]) == function
    )


@functools.lru_cache(maxsize=1024)
def _text_usage(text: str) -> tuple[tuple[str, frozenset[str]], ...] | None:
    from bomguard.policy.evaluation import parse

    try:
        found = _usage(parse(text))
    except RecursionError:
        return None
    if found is None:
        return None
    return tuple((path, frozenset(names)) for path, names in found.items())


def policy_usage(texts: Iterable[str | None]) -> Usage | None:
    """The fields component-scope expressions ``texts`` can read, by object kind;
    ``None`` when they may read any (see the module docstring).

    Every text must be one that compiled.
    """
    read: dict[str, frozenset[str]] = {}
    for text in texts:
        if text is None:
            continue
        found = _text_usage(text)
        if found is None:
            return None
        for path, names in found:
            read[path] = read.get(path, frozenset()) | names
    return read


def component_keys(usage: Usage | None) -> frozenset[str] | None:
    """The top-level ``component`` keys read (``None``: any)."""
    return None if usage is None else usage.get("component", frozenset())


_Plan: TypeAlias = "tuple[tuple[str, Any], ...]"


def _plan(kind: CelType, usage: Usage) -> Any:
    """How to trim a value of ``kind``: ``None`` (keep as is), an object's kept fields
    with their plans, or ``("list", plan)`` for a list of objects."""
    if kind.kind == "object" and _holds_facts(kind):
        names = usage.get(kind.path, frozenset())
        return tuple(
            (f.name, _plan(f.type, usage), _shape(f.type)) for f in kind.fields if f.name in names
        )
    if kind.kind == "list" and kind.elem is not None and _holds_facts(kind.elem):
        inner = _plan(kind.elem, usage)
        return ("list", inner)
    return None


_Trim: TypeAlias = Callable[[Any, list[int]], Any]


def _compiled(plan: Any) -> _Trim | None:
    """A function applying ``plan`` (``None``: keep the value as it is) that also raises
    ``longest[0]`` to the length of every list and map it keeps."""
    if plan is None:
        return None
    if plan and plan[0] == "list":
        item = _compiled(plan[1])
        assert item is not None  # a list of objects

        def trim_list(value: Any, longest: list[int]) -> Any:
            if type(value) is not list:
                longest[0] = max(longest[0], data_length(value))
                return value
            longest[0] = max(longest[0], len(value))
            return [item(v, longest) for v in value]

        return trim_list
    # An object: its fields as they are (lists and maps of scalars measured by their
    # length, anything else walked), and its objects trimmed in turn.
    sized = tuple(name for name, inner, kind in plan if inner is None and kind in _SIZED)
    walked = tuple(name for name, inner, kind in plan if inner is None and kind not in _SIZED)
    nested = tuple((name, _compiled(inner)) for name, inner, _ in plan if inner is not None)

    def trim_object(value: Any, longest: list[int]) -> Any:
        if type(value) is not dict:  # null, or not the declared shape: kept as it is
            longest[0] = max(longest[0], data_length(value))
            return value
        out = {}
        most = 0
        for name in sized:
            if name in value:
                field = out[name] = value[name]
                size = len(field) if type(field) in _CONTAINERS else data_length(field)
                if size > most:
                    most = size
        for name in walked:
            if name in value:
                field = out[name] = value[name]
                if field is not None and type(field) not in _LEAVES:
                    most = max(most, data_length(field))
        for name, inner in nested:
            if name in value:
                out[name] = inner(value[name], longest)  # type: ignore[misc]
        most = max(most, len(out))
        if most > longest[0]:
            longest[0] = most
        return out

    return trim_object


_LEAVES = frozenset({str, bool, int, float})
_CONTAINERS = frozenset({list, dict})


def _shape(kind: CelType) -> str:
    """``sized`` for a list or map of scalars (its length is its longest), else ``other``."""
    if kind.kind in {"list", "map"} and kind.elem is not None and kind.elem.kind in _SCALARS:
        return _SIZED
    return "other"


_SIZED = "sized"
_SCALARS = frozenset({"bool", "int", "uint", "double", "string", "bytes", "timestamp"})


def trimmer(
    usage: Usage | None,
) -> Callable[[Mapping[str, Any]], tuple[Mapping[str, Any], int | None]]:
    """A function giving the part of ``component`` facts that ``usage`` reads and the
    length of the longest list or map in that part (:func:`~bomguard.policy.limits.data_length`,
    measured while trimming); for ``None``, the facts themselves, not measured (``None``)."""
    if usage is None:
        return lambda facts: (facts, None)
    trim = _compiled(_plan(COMPONENT, usage))
    assert trim is not None  # component is an object

    def trimmed(facts: Mapping[str, Any]) -> tuple[Mapping[str, Any], int | None]:
        longest = [0]
        return trim(facts, longest), longest[0]

    return trimmed
