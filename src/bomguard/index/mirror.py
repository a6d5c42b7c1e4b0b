"""An offline mirror: everything a later run needs, in a directory with a manifest.

Layout (``bomguard fetch SBOM --into DIR`` writes it, ``--mirror DIR`` reads it)::

    DIR/manifest.json                       format, index URL, creation time, and the
                                            sha256 of every other file below
    DIR/simple/<project>/index.json         the project's files as a PEP 691 JSON page
                                            (filename, url, hashes.sha256, provenance)
    DIR/provenance/<filename>.json          the PEP 740 provenance object, byte for byte

A file whose sha256 does not match the manifest (or that the manifest does not list) is
refused: the component or file it serves becomes ``unknown`` with that reason.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from bomguard.errors import InputError

__all__ = ["MANIFEST", "Mirror", "MirrorError", "write_mirror"]

MANIFEST = "manifest.json"
FORMAT = "bomguard-mirror/1"


class MirrorError(Exception):
    """A file the mirror should hold is missing or does not match the manifest."""


def _safe_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise MirrorError(f"refusing unsafe file name {name!r}")
    return name


def page_path(project: str) -> str:
    return f"simple/{_safe_name(canonicalize_name(project))}/index.json"


def provenance_path(filename: str) -> str:
    return f"provenance/{_safe_name(filename)}.json"


@dataclass(frozen=True)
class Mirror:
    """A mirror directory whose manifest has been read."""

    root: Path
    index_url: str
    files: Mapping[str, str]

    @classmethod
    def open(cls, root: Path) -> Mirror:
        """Read ``root/manifest.json``; raise :class:`InputError` if it is unusable."""
        path = root / MANIFEST
        try:
            data = json.loads(path.read_bytes())
        except OSError as err:
            raise InputError(f"{path}: cannot read the mirror manifest: {err.strerror}") from err
        except ValueError as err:
            raise InputError(f"{path}: not JSON: {err}") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{path}: format: not a {FORMAT} manifest")
        files = data.get("files")
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise InputError(f"{path}: files: expected an object of path to sha256")
        return cls(root, str(data.get("index_url", "")), files)

    def _read(self, relative: str) -> bytes:
        expected = self.files.get(relative)
        if expected is None:
            raise MirrorError(f"not in the mirror ({relative})")
        try:
            body = (self.root / relative).read_bytes()
        except OSError as err:
            raise MirrorError(f"mirror file {relative} cannot be read: {err.strerror}") from err
        if hashlib.sha256(body).hexdigest() != expected:
            raise MirrorError(f"mirror file {relative} does not match its manifest (tampered?)")
        return body

    def page(self, project: str) -> bytes:
        """The project's page (PEP 691 JSON)."""
        return self._read(page_path(project))

    def provenance(self, filename: str, sha256: str | None) -> bytes:
        """The provenance of one file."""
        return self._read(provenance_path(filename))


def write_mirror(
    root: Path,
    index_url: str,
    pages: Mapping[str, bytes],
    provenance: Mapping[str, bytes],
) -> Path:
    """Write a mirror: ``pages`` by project, ``provenance`` by filename. Returns the manifest.

    The manifest is written last, so a mirror with a manifest is complete.
    """
    from bomguard._io import write_atomic

    files: dict[str, str] = {}
    entries = [(page_path(p), body) for p, body in pages.items()]
    entries += [(provenance_path(f), body) for f, body in provenance.items()]
    for relative, body in sorted(entries):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, body)
        files[relative] = hashlib.sha256(body).hexdigest()
    manifest = {
        "format": FORMAT,
        "index_url": index_url,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": dict(sorted(files.items())),
    }
    path = root / MANIFEST
    write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return path
