"""Read SBOMs into components and write them back with additions only."""

from __future__ import annotations

import json
from pathlib import Path

from bomguard.errors import InputError
from bomguard.sbom.cyclonedx_json import CycloneDxJson
from bomguard.sbom.interface import Addition, SbomDocument

__all__ = ["MAX_SBOM_BYTES", "Addition", "SbomDocument", "parse_sbom", "read_sbom"]

#: SBOMs larger than this are refused rather than read into memory.
MAX_SBOM_BYTES = 512 * 1024 * 1024


def read_sbom(path: Path) -> SbomDocument:
    """Read and parse the SBOM at ``path``; raise :class:`InputError` naming the problem."""
    try:
        size = path.stat().st_size
        if size > MAX_SBOM_BYTES:
            raise InputError(f"{path}: file is {size} bytes, over the {MAX_SBOM_BYTES} limit")
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from err
    return parse_sbom(raw, path)


def parse_sbom(raw: bytes, path: Path | None = None) -> SbomDocument:
    """Parse SBOM bytes (``path`` only names the source in messages)."""
    label = str(path) if path is not None else "<sbom>"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{label}: byte {err.start}: not valid UTF-8") from err
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{label}: file is empty")
    if stripped[0] != "{":
        raise InputError(
            f"{label}: not a JSON document (this version reads CycloneDX JSON; "
            "other formats are not supported yet)"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{label}: line {err.lineno} column {err.colno}: {err.msg}") from err
    except RecursionError as err:
        raise InputError(f"{label}: JSON nested too deeply") from err
    if CycloneDxJson.sniff(data):
        return CycloneDxJson(data, path)
    if isinstance(data, dict) and "spdxVersion" in data:
        raise InputError(f"{label}: spdxVersion: SPDX documents are not supported yet")
    raise InputError(f"{label}: bomFormat: not a CycloneDX document")
