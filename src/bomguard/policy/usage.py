"""Which ``component`` facts a set of expressions can read, found from their parse trees.

Evaluation binds only those keys of the ``component`` map to CEL (and builds only those
of the costly ones), so facts no rule reads are never computed nor converted to the
engine's values. The analysis is conservative: a key counts as read when an expression
selects it (``component.provenance``, ``has(component.drift)``, ``component["pypi"]``);
any other use of ``component`` itself (passed to a function, ``component.depends_on(…)``,
compared, iterated, indexed with a computed key, or a comprehension variable of that
name) means every key may be read, and everything is bound, as without the analysis.

An expression can therefore never tell a trimmed map from the full one: the keys it
could select are all there, with the same values.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TypeAlias

import lark

from bomguard.policy.checker import _string_literal

__all__ = ["component_keys"]

Tree: TypeAlias = "lark.Tree[lark.Token]"

_VARIABLE = "component"


def _is_variable(node: Tree | lark.Token | None) -> bool:
    """Whether ``node`` is exactly the identifier ``component`` (through its wrappers)."""
    while isinstance(node, lark.Tree):
        kids = [c for c in node.children if c is not None]
        if node.data == "ident":
            return len(kids) == 1 and str(kids[0]) == _VARIABLE
        if node.data not in {"member", "primary"} or len(kids) != 1:
            return False
        node = kids[0]
    return False


def _keys(tree: Tree) -> frozenset[str] | None:
    """The top-level ``component`` keys ``tree`` selects, or ``None`` for "any key"."""
    selected: set[str] = set()
    selections = occurrences = 0
    for node in tree.iter_subtrees():
        if node.data == "ident":
            occurrences += sum(1 for c in node.children if str(c) == _VARIABLE)
            continue
        if node.data not in {"member_dot", "member_index"} or len(node.children) != 2:
            continue
        if not _is_variable(node.children[0]):
            continue
        key = node.children[1]
        if node.data == "member_dot":
            name = str(key) if isinstance(key, lark.Token) else None
        else:
            name = _string_literal(key) if isinstance(key, lark.Tree) else None
        if name is None:  # a computed key: any key may be read
            return None
        selected.add(name)
        selections += 1
    # Every occurrence of the identifier must be the receiver of one of those selections.
    return frozenset(selected) if occurrences == selections else None


@functools.lru_cache(maxsize=1024)
def _keys_of(text: str) -> frozenset[str] | None:
    from bomguard.policy.evaluation import parse

    return _keys(parse(text))


def component_keys(texts: Iterable[str | None]) -> frozenset[str] | None:
    """The ``component`` keys the expressions ``texts`` can read (``None``: any key).

    Every text must parse (the policy compiled).
    """
    found: set[str] = set()
    for text in texts:
        if text is None:
            continue
        keys = _keys_of(text)
        if keys is None:
            return None
        found |= keys
    return frozenset(found)
