"""Property: the JSON bomguard writes is exactly what ``json.dumps`` writes, in the
input's indentation, whichever encoder (orjson or the standard library) wrote it."""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bomguard.sbom._common import dump_json, json_indent

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats()
    | st.sampled_from([1e16, 1e-7, 0.1, -0.0, 123456.789, 5e-324])
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _reference(data: object, indent: str | None) -> bytes:
    if indent is None:
        return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    return (json.dumps(data, indent=indent, ensure_ascii=False) + "\n").encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(data=JSON, indent=st.sampled_from(["  ", "    ", "\t", None]))
def test_written_json_is_what_json_dumps_writes(data, indent):
    try:
        expected = _reference(data, indent)
    except UnicodeEncodeError:  # a lone surrogate: not writable as UTF-8 by either
        return
    assert dump_json(data, indent) == expected


@given(indent=st.sampled_from(["  ", "    ", "\t"]))
def test_an_enriched_document_keeps_the_inputs_indentation(indent):
    doc = {"bomFormat": "CycloneDX", "components": [{"name": "é", "x": 1e16}], "n": 2**70}
    raw = json.dumps(doc, indent=indent).encode()
    assert dump_json(json.loads(raw), json_indent(raw)) == _reference(doc, indent)


@settings(max_examples=300, deadline=None)
@given(
    data=JSON,
    indent=st.sampled_from([" ", "   ", "    ", "\t", " \t", None]),
    piece=st.sampled_from([1, 7, 64, 1 << 20]),
)
def test_the_streamed_writer_writes_what_json_dumps_writes(data, indent, piece):
    """The enriched SBOM's writer re-indents orjson's text piece by piece for indentations
    orjson does not write (one space, tabs): the bytes must be json.dumps's exactly,
    wherever the pieces are cut, including inside strings that hold newlines."""
    from bomguard.sbom import cyclonedx_stream

    try:
        expected = _reference(data, indent)
    except UnicodeEncodeError:
        return
    out = io.BytesIO()
    saved, cyclonedx_stream._PIECE = cyclonedx_stream._PIECE, piece
    try:
        cyclonedx_stream.write_json(out, data, indent, None)
    finally:
        cyclonedx_stream._PIECE = saved
    assert out.getvalue() == expected
