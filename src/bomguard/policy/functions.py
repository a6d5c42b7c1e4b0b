"""The functions bomguard adds to CEL (declared in :data:`~bomguard.policy.vocabulary.FUNCTIONS`).

Each is written once on plain Python values (:data:`PLAIN`, raising ``ValueError`` or
``TypeError`` with a one-line message for a bad argument). :func:`bindings` wraps them
for cel-python, turning those exceptions into a ``CELEvalError`` value; the cpp engine
binds :data:`PLAIN` directly and gets an error value the same way. Either way a rule
using them fails closed on that component instead of raising.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from bomguard.policy.graphfacts import depends_on, is_dependency_of

if TYPE_CHECKING:  # imported by the first specifier parsed: most runs parse none
    from packaging.specifiers import SpecifierSet

__all__ = ["PLAIN", "bindings", "parse_specifier", "parse_version"]


def parse_version(text: object, function: str) -> Version:
    """A PEP 440 version, or :class:`ValueError` with a message naming ``function``."""
    if not isinstance(text, str):
        raise TypeError(f"{function}: expected a string, got {type(text).__name__}")
    try:
        return Version(text)
    except InvalidVersion:
        raise ValueError(f"{function}: invalid PEP 440 version {str(text)!r}") from None


def parse_specifier(text: object, function: str) -> SpecifierSet:
    """A PEP 440 specifier set, or :class:`ValueError` with a message naming ``function``."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not isinstance(text, str):
        raise TypeError(f"{function}: expected a string, got {type(text).__name__}")
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(f"{function}: invalid PEP 440 specifier {str(text)!r}") from None


def match_version(version: str, specifier: str) -> bool:
    """Whether ``version`` is in ``specifier`` (PEP 440, pre-releases included)."""
    spec = parse_specifier(specifier, "version_matches")
    return spec.contains(parse_version(version, "version_matches"), prereleases=True)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as PEP 440 version ``a`` is lower than, equal to or higher than ``b``."""
    left, right = parse_version(a, "version_compare"), parse_version(b, "version_compare")
    return (left > right) - (left < right)


def is_version(text: str) -> bool:
    """Whether ``text`` is a PEP 440 version."""
    try:
        parse_version(text, "version_valid")
    except ValueError:
        return False
    return True


def glob_match(text: str, pattern: str) -> bool:
    """Shell-style, case-sensitive match of the whole ``text``."""
    if not isinstance(text, str) or not isinstance(pattern, str):
        raise TypeError("glob: expected (string, string)")
    return fnmatch.fnmatchcase(text, pattern)


PLAIN: dict[str, Callable[..., Any]] = {
    "version_matches": match_version,
    "version_compare": compare_versions,
    "version_valid": is_version,
    "glob": glob_match,
    "depends_on": depends_on,
    "is_dependency_of": is_dependency_of,
}
"""Name to implementation on plain Python values, raising ValueError/TypeError on bad input."""


def _celpy(name: str, function: Callable[..., Any], arity: int) -> Callable[..., Any]:
    """``function`` on cel-python values: its ValueError/TypeError become a CEL error value."""
    import celpy.celtypes
    from celpy.evaluation import CELEvalError

    result = celpy.celtypes.IntType if name == "version_compare" else celpy.celtypes.BoolType

    def call(*args: Any) -> Any:
        try:
            if len(args) != arity:
                raise TypeError(f"{name}: expected {arity} arguments, got {len(args)}")
            return result(function(*args))
        except (ValueError, TypeError) as err:
            return CELEvalError(str(err), type(err), err.args)

    call.__name__ = name
    return call


def _null_equality(negate: bool) -> Callable[[Any, Any], Any]:
    """CEL's ``==`` (or ``!=``), where a value compared with ``null`` is simply unequal.

    cel-python raises "no such overload" for ``1 == null``; CEL's heterogeneous equality
    (and cel-expr-python) says ``false``. Facts that may be null (``component.rank``,
    ``component.graph.depth``) are guarded with ``!= null``, so both engines must agree.
    """
    import celpy.celtypes
    from celpy.evaluation import bool_eq, bool_ne

    def compare(left: Any, right: Any) -> Any:
        if left is None or right is None:
            return celpy.celtypes.BoolType((left is None and right is None) != negate)
        return bool_ne(left, right) if negate else bool_eq(left, right)

    return compare


@functools.cache
def bindings() -> dict[str, Callable[..., Any]]:
    """Name to implementation, as ``celpy.Environment.program(functions=…)`` takes them
    (built on first use: only the cel-python engine imports cel-python)."""
    return {
        **{
            name: _celpy(name, function, 1 if name == "version_valid" else 2)
            for name, function in PLAIN.items()
        },
        "_==_": _null_equality(negate=False),
        "_!=_": _null_equality(negate=True),
    }
