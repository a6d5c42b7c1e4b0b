"""Package data the policy stage reads (JSON schemas, the default policy) and schema checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bomguard._jsonschema import load as _load_jsonschema

if TYPE_CHECKING:
    import jsonschema

import functools
import json
import math
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

__all__ = [
    "first_error",
    "key_path",
    "plainly_valid",
    "read_data",
    "relevance",
    "schema",
    "validator",
]


def read_data(name: str) -> bytes:
    """The bytes of ``bomguard/data/<name>``."""
    return (resources.files("bomguard") / "data" / name).read_bytes()


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """A packaged JSON schema, parsed (``policy`` or ``verdict``)."""
    data: dict[str, Any] = json.loads(read_data(f"{name}.schema.json"))
    return data


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for the packaged schema ``name``."""
    return _load_jsonschema().Draft202012Validator(schema(name))  # type: ignore[no-any-return]


def relevance(error: jsonschema.ValidationError) -> Any:
    """Rank errors as jsonschema's best_match does, with unknown keys first.

    At the same depth, an unknown key ("requires") explains more than the missing one.
    """
    rank = _load_jsonschema().exceptions.by_relevance(strong=frozenset({"additionalProperties"}))
    return rank(error)


def first_error(name: str, instance: object) -> jsonschema.ValidationError | None:
    """The most relevant error of ``instance`` against schema ``name``, if any."""
    error: jsonschema.ValidationError | None = _load_jsonschema().exceptions.best_match(
        validator(name).iter_errors(instance), key=relevance
    )
    return error


def key_path(parts: Iterable[str | int]) -> str:
    """``rules[1].require`` from ``["rules", 1, "require"]``; ``""`` for the document."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_PLAIN_TEXT = re.compile(r"[\x20-\x7e\t\n\r]*")
_INT64 = 2**63


def _plain(value: object) -> bool:
    """Whether ``value`` is JSON both validators read alike: str keys, finite numbers,
    64-bit ints, printable ASCII text (where Python's and jsonschema-rs's regular
    expressions agree on every class the schemas use)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return _PLAIN_TEXT.fullmatch(value) is not None
    if isinstance(value, int):
        return -_INT64 <= value < _INT64
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(k) and _plain(v) for k, v in value.items())
    return False


@functools.cache
def _fast_validator(name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema(name), validate_formats=False)


def plainly_valid(name: str, instance: object) -> bool:
    """Whether ``instance`` is valid against schema ``name``, checked without importing
    jsonschema (about 40 ms of a run) when that is certain: jsonschema-rs says valid and
    the document is plain JSON (:func:`_plain`). ``False`` means "not shown valid here":
    the caller then asks jsonschema, whose errors (and verdict) are the reference.
    """
    try:
        if not _plain(instance):
            return False
    except RecursionError:
        return False
    valid: bool = _fast_validator(name).is_valid(instance)
    return valid
