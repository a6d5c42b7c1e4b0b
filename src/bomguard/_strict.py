"""Strict JSON (and YAML) data: what Python's parsers accept but bomguard must refuse.

``json.loads`` accepts ``NaN`` and ``Infinity`` (and writes them back: the output is not
JSON), keeps the last of duplicate keys, raises ``ValueError`` for an integer of more than
4300 digits and returns strings with lone surrogates (``"\\ud800"``) that cannot be
written as UTF-8. :func:`loads_json` parses with hooks that turn each of these into a
marker, and :func:`find_problem` walks the result once (iteratively) and reports the first
marker, lone surrogate or too-deep nesting with its key path. YAML loaders use the same
markers (:func:`oversized_int`) and the same walk.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_INT_DIGITS",
    "Invalid",
    "StrictDict",
    "find_problem",
    "format_path",
    "loads_json",
    "oversized_int",
    "pairs_to_dict",
]

#: The most digits an integer may have (Python's own limit for converting text to int).
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300

Path = tuple[str | int, ...]


class Invalid:
    """A value that must not be accepted; ``reason`` says why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class StrictDict(dict[str, Any]):
    """A JSON object that repeated ``duplicate``."""

    duplicate: str = ""


def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a dict, or a :class:`StrictDict` marking a repeated key."""
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    marked = StrictDict(result)
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


def _constant(name: str) -> Invalid:
    return Invalid(f"{name} is not a JSON number")


def oversized_int(digits: str) -> Invalid | None:
    """A marker for an integer literal longer than :data:`MAX_INT_DIGITS` digits."""
    count = len(digits.lstrip("+-"))
    if count > MAX_INT_DIGITS:
        return Invalid(f"a number with {count} digits (the limit is {MAX_INT_DIGITS})")
    return None


def _int(text: str) -> int | Invalid:
    return oversized_int(text) or int(text)


def _float(text: str) -> float | Invalid:
    value = float(text)
    if not math.isfinite(value):
        return Invalid(f"number {text[:40]} is out of range")
    return value


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` with the markers :func:`find_problem` reports (may raise
    ``json.JSONDecodeError`` and ``RecursionError`` as ``json.loads`` does)."""
    return json.loads(
        text,
        object_pairs_hook=pairs_to_dict,
        parse_constant=_constant,
        parse_int=_int,
        parse_float=_float,
    )


def _unicode_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        code = ord(text[err.start])
        return f"lone surrogate \\u{code:04x} (not a Unicode character)"
    return None


def format_path(path: Path) -> str:
    """``components[3].version`` (``(document)`` for the root), shortened to 120 characters."""
    out = ""
    for part in path:
        if isinstance(part, str) and not part.isprintable():
            part = "".join(c if c.isprintable() else "?" for c in part)
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    if not out:
        return "(document)"
    return out if len(out) <= 120 else out[:119] + "…"


def find_problem(data: object, max_depth: int | None = None) -> tuple[Path, str] | None:
    """The first problem in parsed data: its key path and what is wrong, or ``None``.

    Problems: an :class:`Invalid` marker, a repeated key, a string or key with a lone
    surrogate, and (with ``max_depth``) containers nested deeper than ``max_depth``.
    """
    # Entries: (node, depth, parent entry, key) — paths are only built for the problem.
    Entry = tuple[Any, int, Any, Any]
    stack: list[Entry] = [(data, 0, None, None)]

    def path_of(entry: Entry | None) -> Path:
        parts: list[str | int] = []
        while entry is not None and entry[2] is not None:
            parts.append(entry[3])
            entry = entry[2]
        return tuple(reversed(parts))

    check: Callable[[str], str | None] = _unicode_problem
    while stack:
        entry = stack.pop()
        node, depth = entry[0], entry[1]
        if isinstance(node, str):
            problem = check(node)
            if problem is not None:
                return path_of(entry), problem
            continue
        if isinstance(node, Invalid):
            return path_of(entry), node.reason
        if isinstance(node, float) and not math.isfinite(node):
            return path_of(entry), f"{node} is not a finite number"
        if isinstance(node, dict):
            if max_depth is not None and depth >= max_depth:
                return path_of(entry), f"nested more than {max_depth} deep"
            if isinstance(node, StrictDict):
                return (*path_of(entry), node.duplicate), "duplicate key"
            for key in node:
                if isinstance(key, str):
                    problem = check(key)
                    if problem is not None:
                        shown = key.encode("utf-8", "replace").decode()
                        return (*path_of(entry), shown), f"key: {problem}"
            stack.extend((value, depth + 1, entry, key) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            if max_depth is not None and depth >= max_depth:
                return path_of(entry), f"nested more than {max_depth} deep"
            stack.extend((node[i], depth + 1, entry, i) for i in range(len(node) - 1, -1, -1))
    return None
