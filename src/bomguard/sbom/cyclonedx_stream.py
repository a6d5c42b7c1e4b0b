"""Write an enriched CycloneDX JSON document piece by piece, its attachments file by file.

The embedded provenance objects are most of an enriched SBOM (165 MiB of base64 in a
191 MiB document at 5,000 components). Until the document is written, each attachment's
``content`` holds a placeholder string (:meth:`bomguard._spool.ProvenanceSpool.placeholder`)
instead of its base64 text. Writing serialises the document once, placeholders and all
(the JSON text of everything else, a few MiB), and copies it to the output, replacing
each placeholder, as it is reached, by the base64 of the object read back from the
spool. No more than one provenance object is held at a time.

The bytes are those :func:`bomguard.sbom._common.dump_json` writes for the same document
with the base64 text in place: the input's indentation and the same encoder (the
encoder's choice does not depend on the content of strings without escapes), and
base64 text and the placeholders (letters, digits, ``+/=:-``) are written by every
JSON encoder as they are, without escapes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import IO, Any

from bomguard._fastjson import dumps_reindentable
from bomguard._spool import ProvenanceSpool

__all__ = ["write_json"]

#: Bytes of base64 text written at once (a multiple of 4, from a multiple of 3 bytes).
_CHUNK = 3 * 65536
#: Bytes of the document's own text re-indented at once (when it is, see _fastjson).
_PIECE = 1 << 20


def write_json(
    handle: IO[bytes], data: Any, indent: str | None, spool: ProvenanceSpool | None
) -> None:
    """Write ``data`` as JSON to ``handle``, each placeholder of ``spool`` replaced by the
    base64 text of its provenance object."""
    skeleton, newline, reindent = dumps_reindentable(data, indent)
    if spool is None or not len(spool):
        if reindent is None:
            handle.write(skeleton)
        else:
            for start, end in _pieces(skeleton):
                handle.write(reindent(skeleton[start:end]))
        handle.write(newline)
        return
    pattern = re.compile(b'"' + re.escape(spool.token.encode("ascii")) + rb'([0-9a-f]{64})"')
    view = memoryview(skeleton)
    for start, end in _pieces(skeleton):
        # A piece ends before a newline, so no placeholder (mid-line) is cut in two.
        text = reindent(skeleton[start:end]) if reindent is not None else view[start:end]
        at = 0
        for match in pattern.finditer(text):
            handle.write(text[at : match.start() + 1])
            raw = spool.read(match.group(1).decode("ascii"))
            for begin in range(0, len(raw), _CHUNK):
                handle.write(base64.b64encode(raw[begin : begin + _CHUNK]))
            at = match.end() - 1
        handle.write(text[at:])
    handle.write(newline)


def _pieces(text: bytes) -> Iterator[tuple[int, int]]:
    """``text`` cut into pieces of about :data:`_PIECE` bytes, each cut before a newline
    (a valid cut for re-indenting, see :mod:`bomguard._fastjson`)."""
    at = 0
    while len(text) - at > _PIECE:
        cut = text.rfind(b"\n", at + 1, at + _PIECE)
        if cut < 0:
            break
        yield at, cut
        at = cut
    yield at, len(text)
