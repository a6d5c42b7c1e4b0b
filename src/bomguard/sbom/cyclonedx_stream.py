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
from typing import IO, Any

from bomguard._fastjson import dumps_parts
from bomguard._spool import ProvenanceSpool

__all__ = ["write_json"]

#: Bytes of base64 text written at once (a multiple of 4, from a multiple of 3 bytes).
_CHUNK = 3 * 65536


def write_json(
    handle: IO[bytes], data: Any, indent: str | None, spool: ProvenanceSpool | None
) -> None:
    """Write ``data`` as JSON to ``handle``, each placeholder of ``spool`` replaced by the
    base64 text of its provenance object."""
    skeleton, newline = dumps_parts(data, indent)
    if spool is None or not len(spool):
        handle.write(skeleton)
        handle.write(newline)
        return
    pattern = re.compile(b'"' + re.escape(spool.token.encode("ascii")) + rb'([0-9a-f]{64})"')
    view = memoryview(skeleton)
    at = 0
    for match in pattern.finditer(skeleton):
        handle.write(view[at : match.start() + 1])
        raw = spool.read(match.group(1).decode("ascii"))
        for start in range(0, len(raw), _CHUNK):
            handle.write(base64.b64encode(raw[start : start + _CHUNK]))
        at = match.end() - 1
    handle.write(view[at:])
    handle.write(newline)
