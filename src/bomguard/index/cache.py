"""An on-disk HTTP cache for project pages and provenance objects.

- Provenance is immutable once keyed by index origin + filename + sha256: a cached entry
  is used without any request.
- Project pages change: they are stored with their ``ETag`` / ``Last-Modified`` and
  revalidated with a conditional request on every run.
- Every entry records the sha256 of its body; an entry that is corrupt, partial or does
  not match is ignored (and re-fetched), never trusted.
- Entries are written to a temporary file and renamed into place, so concurrent runs
  sharing a cache directory never see a half-written entry.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CachedPage", "DiskCache", "default_cache_dir"]

_FORMAT = 1


def default_cache_dir() -> Path:
    """The per-user cache directory (``BOMGUARD_CACHE_DIR`` overrides it)."""
    override = os.environ.get("BOMGUARD_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("bomguard", "bomguard"))


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A cached project page and the validators to revalidate it with."""

    url: str
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    fresh_until: float = 0.0
    """Unix time until which the index said the page may be used without asking again."""


def fresh_until(cache_control: str | None, now: float) -> float:
    """When a response stops being fresh by its ``Cache-Control`` (0: revalidate now).

    Honours ``max-age`` (``s-maxage`` is for shared caches), and ``no-cache``,
    ``no-store`` and ``must-revalidate`` mean: ask again every time.
    """
    if not cache_control:
        return 0.0
    directives = {}
    for part in cache_control.lower().split(","):
        name, _, value = part.strip().partition("=")
        directives[name] = value.strip().strip('"')
    if {"no-cache", "no-store", "must-revalidate"} & directives.keys():
        return 0.0
    try:
        age = int(directives.get("max-age", "0"))
    except ValueError:
        return 0.0
    return now + min(age, 24 * 3600) if age > 0 else 0.0


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


class DiskCache:
    """A cache directory; safe to share between concurrent processes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.json"

    def _read(self, path: Path) -> dict[str, object] | None:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return None
        return data

    def _body(self, data: dict[str, object]) -> bytes | None:
        encoded, digest = data.get("body"), data.get("body_sha256")
        if not isinstance(encoded, str) or not isinstance(digest, str):
            return None
        try:
            body = base64.b64decode(encoded, validate=True)
        except ValueError:
            return None
        return body if hashlib.sha256(body).hexdigest() == digest else None

    def _write(self, path: Path, data: dict[str, object]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(data).encode("utf-8"))
            Path(tmp).replace(path)
        except OSError:
            # A cache that cannot be written is only slower, never wrong.
            with contextlib.suppress(OSError, UnboundLocalError):
                Path(tmp).unlink()

    def _entry(self, body: bytes, **fields: object) -> dict[str, object]:
        return {
            "format": _FORMAT,
            **fields,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body": base64.b64encode(body).decode("ascii"),
        }

    # -- provenance ------------------------------------------------------------------

    def get_provenance(self, origin: str, filename: str, sha256: str) -> bytes | None:
        """Cached provenance for this file of this index, if whole and intact."""
        data = self._read(self._path("provenance", _key(origin, filename, sha256)))
        if data is None or (data.get("filename"), data.get("sha256")) != (filename, sha256):
            return None
        return self._body(data)

    def put_provenance(self, origin: str, filename: str, sha256: str, body: bytes) -> None:
        """Store provenance fetched for a file whose sha256 is known."""
        path = self._path("provenance", _key(origin, filename, sha256))
        self._write(path, self._entry(body, origin=origin, filename=filename, sha256=sha256))

    # -- project pages ---------------------------------------------------------------

    def get_page(self, url: str) -> CachedPage | None:
        """A cached project page (to revalidate before use)."""
        data = self._read(self._path("pages", _key(url)))
        if data is None or data.get("url") != url:
            return None
        body = self._body(data)
        if body is None:
            return None
        etag, modified = data.get("etag"), data.get("last_modified")
        fresh = data.get("fresh_until")
        return CachedPage(
            url=url,
            body=body,
            content_type=str(data.get("content_type", "")),
            etag=etag if isinstance(etag, str) else None,
            last_modified=modified if isinstance(modified, str) else None,
            fresh_until=float(fresh) if isinstance(fresh, (int, float)) else 0.0,
        )

    def put_page(self, page: CachedPage) -> None:
        """Store a project page with its validators or freshness (only pages that have one)."""
        if page.etag is None and page.last_modified is None and page.fresh_until <= 0:
            return
        self._write(
            self._path("pages", _key(page.url)),
            self._entry(
                page.body,
                url=page.url,
                content_type=page.content_type,
                etag=page.etag,
                last_modified=page.last_modified,
                fresh_until=page.fresh_until,
            ),
        )
