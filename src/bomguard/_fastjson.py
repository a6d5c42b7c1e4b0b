"""JSON text as ``json.dumps`` writes it, through orjson when the bytes come out the same.

``json.dumps(indent=...)`` takes the pure-Python encoder: 347 ms for a 1,000-component
enriched SBOM here, against 52 ms for orjson. orjson writes byte-for-byte what
``json.dumps(..., ensure_ascii=False)`` writes for two-space indentation and for the
compact form, except for floats in exponent form (``1e16`` against ``1e+16``), NaN and
infinities, integers beyond 64 bits, strings with lone surrogates and non-string keys.
Documents with any of those (and any other indentation) take ``json.dumps``: the output
never depends on which encoder ran.
"""

from __future__ import annotations

import io
import json
from typing import Any

__all__ = ["dumps"]

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; json.dumps is exact too
    orjson = None  # type: ignore[assignment]


def _plain_floats(data: object) -> bool:
    """Whether every float in ``data`` has the same text in both encoders."""
    stack = [data]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            stack.extend(node.values())  # type: ignore[attr-defined]
        elif kind is list:
            stack.extend(node)  # type: ignore[arg-type]
        elif kind is float:
            text = repr(node)
            if "e" in text or "n" in text:  # 1e+16, nan, inf
                return False
    return True


def dumps(data: Any, indent: str | None) -> bytes:
    """``json.dumps(data, indent=indent, ensure_ascii=False)`` plus a newline, UTF-8
    encoded (compact separators when ``indent`` is ``None``)."""
    if orjson is not None and indent in ("  ", None) and _plain_floats(data):
        try:
            return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0) + b"\n"
        except TypeError:  # big integers, surrogates, non-string keys: json.dumps below
            pass
    if indent is None:
        return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    # json.dumps with an indent joins a list of every token (millions of small strings
    # for a large SBOM: several times the output's size); write them to a buffer instead.
    buffer = io.StringIO()
    for chunk in json.JSONEncoder(indent=indent, ensure_ascii=False).iterencode(data):
        buffer.write(chunk)
    buffer.write("\n")
    return buffer.getvalue().encode("utf-8")
