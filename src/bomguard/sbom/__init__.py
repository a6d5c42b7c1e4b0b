"""Read SBOMs into components and write them back with additions only.

Supported (format and version are detected from the content; ``input_format`` overrides
the format):

============== ===================================== ==============================
input_format   format                                versions
============== ===================================== ==============================
cyclonedx-json CycloneDX JSON                        1.4, 1.5, 1.6, 1.7
cyclonedx-xml  CycloneDX XML                         1.4, 1.5, 1.6, 1.7
spdx-json      SPDX 2 JSON                           2.2, 2.3
spdx-yaml      SPDX 2 YAML                           2.2, 2.3
spdx-tagvalue  SPDX 2 tag-value                      2.2, 2.3
spdx-rdf       SPDX 2 RDF/XML                        2.2, 2.3
spdx3-jsonld   SPDX 3 JSON-LD                        3.0.1
============== ===================================== ==============================

Every document must be UTF-8. Bad input (malformed, truncated, the wrong format, nested
too deeply, XML with a DTD or entities) raises :class:`bomguard.errors.InputError` with a
one-line message naming the file and the line/column or key path.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, BinaryIO

from bomguard._strict import find_problem, format_path, loads_json
from bomguard.errors import InputError
from bomguard.sbom._common import MAX_DEPTH, label_of, one_line
from bomguard.sbom.cyclonedx_json import CycloneDxJson
from bomguard.sbom.interface import Addition, SbomDocument

__all__ = [
    "FORMATS",
    "MAX_SBOM_BYTES",
    "Addition",
    "SbomDocument",
    "parse_sbom",
    "read_sbom",
]

#: SBOMs larger than this are refused rather than read into memory.
MAX_SBOM_BYTES = 512 * 1024 * 1024

_CHUNK = 1 << 20

#: The ``input_format`` names, in the order they are documented.
FORMATS = (
    "cyclonedx-json",
    "cyclonedx-xml",
    "spdx-json",
    "spdx-yaml",
    "spdx-tagvalue",
    "spdx-rdf",
    "spdx3-jsonld",
)
_JSON_FORMATS = ("cyclonedx-json", "spdx-json", "spdx3-jsonld")
_XML_FORMATS = ("cyclonedx-xml", "spdx-rdf")


def read_sbom(path: Path, input_format: str | None = None) -> SbomDocument:
    """Read and parse the SBOM at ``path`` (``-``: standard input); raise
    :class:`InputError` naming the problem.

    At most :data:`MAX_SBOM_BYTES` + 1 bytes are ever read, whatever ``path`` is (a
    regular file, a pipe, a FIFO, a device such as ``/dev/zero``).
    """
    return parse_sbom(_read_bounded(path, MAX_SBOM_BYTES), path, input_format)


def _too_big(path: Path, limit: int) -> InputError:
    return InputError(f"{path}: larger than the {limit}-byte limit for an SBOM")


def _read_bounded(path: Path, limit: int) -> bytes:
    """The bytes at ``path``, refused as soon as more than ``limit`` arrive."""
    try:
        if str(path) == "-":
            return _read_stream(sys.stdin.buffer, path, limit)
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISREG(info.st_mode):
                if info.st_size > limit:
                    raise _too_big(path, limit)
                raw = handle.read(limit + 1)  # the file may have grown since fstat
                if len(raw) > limit:
                    raise _too_big(path, limit)
                return raw
            return _read_stream(handle, path, limit)
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from err


def _read_stream(handle: BinaryIO, path: Path, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = handle.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _too_big(path, limit)


def parse_sbom(
    raw: bytes, path: Path | None = None, input_format: str | None = None
) -> SbomDocument:
    """Parse SBOM bytes (``path`` only names the source in messages).

    ``input_format`` (one of :data:`FORMATS`) skips format detection; the document must
    then be of that format.
    """
    label = label_of(path)
    if input_format is not None and input_format not in FORMATS:
        raise InputError(
            f"{label}: unknown input format {input_format!r} (known: {', '.join(FORMATS)})"
        )
    if len(raw) > MAX_SBOM_BYTES:
        raise InputError(f"{label}: {len(raw)} bytes, over the {MAX_SBOM_BYTES} limit")
    text = _decode(raw, label)
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{label}: file is empty")
    if input_format in _JSON_FORMATS or (input_format is None and stripped[0] == "{"):
        return _from_json(text, raw, path, label, input_format)
    if input_format in _XML_FORMATS or (input_format is None and stripped[0] == "<"):
        return _from_xml(raw, path, label, input_format)
    from bomguard.sbom.spdx2_tagvalue import Spdx2TagValue

    if input_format == "spdx-tagvalue" or (input_format is None and Spdx2TagValue.sniff(stripped)):
        return Spdx2TagValue(text, path)
    return _from_yaml(text, path, label, input_format)


def _decode(raw: bytes, label: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"{label}: line {line} column {column} (byte {err.start}): not valid UTF-8"
        ) from err


def _check_tree(data: object, label: str) -> None:
    """Refuse NaN/Infinity, duplicate keys, oversized numbers, lone surrogates and
    nesting deeper than :data:`MAX_DEPTH`, naming the key path."""
    found = find_problem(data, MAX_DEPTH)
    if found is not None:
        path, problem = found
        raise InputError(f"{label}: {format_path(path)}: {problem}")


def _mismatch(label: str, input_format: str, what: str) -> InputError:
    return InputError(f"{label}: not {input_format} as requested: {what}")


def _from_json(
    text: str, raw: bytes, path: Path | None, label: str, input_format: str | None
) -> SbomDocument:
    try:
        data = loads_json(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{label}: line {err.lineno} column {err.colno}: {err.msg}") from err
    except RecursionError as err:
        raise InputError(f"{label}: JSON nested too deeply") from err
    _check_tree(data, label)
    from bomguard.sbom.spdx2_json import Spdx2Json
    from bomguard.sbom.spdx3_jsonld import Spdx3JsonLd

    kinds: list[tuple[str, Any]] = [
        ("cyclonedx-json", CycloneDxJson),
        ("spdx-json", Spdx2Json),
        ("spdx3-jsonld", Spdx3JsonLd),
    ]
    for name, kind in kinds:
        if input_format in (None, name) and kind.sniff(data):
            document: SbomDocument = kind(data, path, raw)
            return document
    if input_format is not None:
        wanted = {
            "cyclonedx-json": 'no "bomFormat": "CycloneDX"',
            "spdx-json": 'no "spdxVersion"',
            "spdx3-jsonld": _spdx3_context_problem(data),
        }
        raise _mismatch(label, input_format, wanted.get(input_format, "not JSON"))
    if isinstance(data, dict) and "@context" in data:
        raise InputError(
            f"{label}: @context: a JSON-LD document, but {_spdx3_context_problem(data)}"
        )
    raise InputError(
        f"{label}: a JSON document, but neither CycloneDX (bomFormat), SPDX 2 (spdxVersion) "
        "nor SPDX 3 JSON-LD (@context)"
    )


def _spdx3_context_problem(data: object) -> str:
    """Why ``data`` is not SPDX 3 JSON-LD as far as its ``@context`` goes."""
    if not isinstance(data, dict) or "@context" not in data:
        return "no SPDX 3 @context"
    shown = json.dumps(data["@context"])
    if len(shown) > 100:
        shown = shown[:97] + "..."
    return f"the @context is {shown}, not SPDX 3's"


def _from_xml(raw: bytes, path: Path | None, label: str, input_format: str | None) -> SbomDocument:
    from bomguard.sbom._xml import parse_xml
    from bomguard.sbom.cyclonedx_xml import CycloneDxXml
    from bomguard.sbom.spdx2_rdf import Spdx2Rdf

    tree = parse_xml(raw, label)
    if input_format in (None, "cyclonedx-xml") and CycloneDxXml.sniff(tree):
        return CycloneDxXml(tree, path)
    if input_format in (None, "spdx-rdf") and Spdx2Rdf.sniff(tree):
        return Spdx2Rdf(tree, raw, path)
    root = one_line(str(tree.root.tag), 120)
    if input_format is not None:
        raise _mismatch(label, input_format, f"the root element is {root}")
    raise InputError(
        f"{label}: an XML document, but neither CycloneDX (bom) nor SPDX RDF/XML "
        f"(rdf:RDF); the root element is {root}"
    )


def _from_yaml(text: str, path: Path | None, label: str, input_format: str | None) -> SbomDocument:
    from bomguard.sbom.spdx2_json import Spdx2Json
    from bomguard.sbom.spdx2_yaml import Spdx2Yaml, load_yaml

    if input_format not in (None, "spdx-yaml"):
        raise _mismatch(label, str(input_format), "it does not start like one")
    if input_format is None and ":" not in text[:4096]:
        raise InputError(
            f"{label}: not a recognised SBOM format (CycloneDX JSON/XML, SPDX 2 "
            "JSON/YAML/tag-value/RDF, SPDX 3 JSON-LD)"
        )
    data = load_yaml(text, label)
    _check_tree(data, label)
    if Spdx2Json.sniff(data):
        return Spdx2Yaml(data, path, text.encode("utf-8"))
    if isinstance(data, dict) and "bomFormat" in data:
        raise InputError(f"{label}: bomFormat: CycloneDX has no YAML format")
    if input_format is not None:
        raise _mismatch(label, input_format, 'no "spdxVersion"')
    raise InputError(
        f"{label}: not a recognised SBOM format (CycloneDX JSON/XML, SPDX 2 "
        "JSON/YAML/tag-value/RDF, SPDX 3 JSON-LD)"
    )
