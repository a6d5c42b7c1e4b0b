"""Package data the policy stage reads (JSON schemas, the default policy) and schema checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bomguard._jsonschema import load as _load_jsonschema

if TYPE_CHECKING:
    import jsonschema

import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

__all__ = ["first_error", "key_path", "read_data", "relevance", "schema", "validator"]


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
