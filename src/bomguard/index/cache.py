"""An authenticated on-disk cache for project pages, provenance objects and file digests.

- Provenance is immutable once keyed by index origin + filename + sha256: a cached entry
  is used without any request.
- Project pages change: they are stored with their ``ETag`` / ``Last-Modified`` and
  revalidated with a conditional request on every run, unless the index's
  ``Cache-Control`` made them fresh for a while (at most :data:`MAX_FRESH_SECONDS`).
- A downloaded distribution file's sha256 (``--hash-files``) is stored under index
  origin + file URL + the sha256 it was expected to have; only the digest, never the bytes.

Every entry carries an HMAC-SHA256, under the per-user key of :mod:`bomguard._cachekey`,
over its kind, its key parts, its validators and freshness, and the sha256 of its body.
An entry whose MAC, body or key parts do not check out is dropped, reported through
``on_tampered`` and fetched again, never trusted. The freshness bound is enforced when an
entry is read, not only when it is written. Without a key the cache is not usable at all
(:attr:`DiskCache.usable`).

Entries are written to a temporary file and renamed into place, so concurrent runs
sharing a cache directory never see a half-written entry.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bomguard._cachekey import cache_key, mac

__all__ = ["MAX_FRESH_SECONDS", "CachedPage", "DiskCache", "default_cache_dir", "fresh_until"]

_FORMAT = 2
MAX_FRESH_SECONDS = 24 * 3600
"""The longest a project page is used without asking the index again."""

Tampered = Callable[[str], None]
"""Called with one sentence naming a dropped entry (kind, URL or file) and its problem."""

_PAGES, _PROVENANCE, _DIGESTS = "pages", "provenance", "digests"
_LABEL = {_PAGES: "project page", _PROVENANCE: "provenance", _DIGESTS: "file digest"}


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

    Honours ``max-age`` (``s-maxage`` is for shared caches), capped at
    :data:`MAX_FRESH_SECONDS`; ``no-cache``, ``no-store`` and ``must-revalidate`` mean:
    ask again every time.
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
    return now + min(age, MAX_FRESH_SECONDS) if age > 0 else 0.0


def trusted_fresh_until(fresh: object, stored_at: object, now: float) -> float:
    """``fresh`` if it is within the cap of both ``now`` and the time it was stored, else 0.

    A page is never used unasked beyond :data:`MAX_FRESH_SECONDS`, whatever its entry
    says, and an entry stored "in the future" (the clock went back) is not fresh either.
    """
    if not isinstance(fresh, int | float) or not isinstance(stored_at, int | float):
        return 0.0
    if not (math.isfinite(fresh) and math.isfinite(stored_at)):
        return 0.0
    if fresh <= now or stored_at > now:
        return 0.0
    if fresh - now > MAX_FRESH_SECONDS or fresh - stored_at > MAX_FRESH_SECONDS:
        return 0.0
    return float(fresh)


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _signed_text(entry: dict[str, object]) -> str:
    """What the MAC covers: every field but the MAC and the body (bound by its sha256)."""
    signed = {k: v for k, v in entry.items() if k not in ("mac", "body")}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"))


class _Dropped(Exception):
    """An entry that exists but must not be trusted; the message says why."""


class DiskCache:
    """A cache directory; safe to share between concurrent processes.

    ``key`` defaults to the per-user cache key; when there is none, :attr:`usable` is
    false and every lookup misses.
    """

    def __init__(
        self, root: Path, key: bytes | None = None, on_tampered: Tampered | None = None
    ) -> None:
        self.root = root
        self.key = key if key is not None else cache_key()
        self.on_tampered = on_tampered

    @property
    def usable(self) -> bool:
        return self.key is not None

    def _path(self, kind: str, parts: dict[str, str]) -> Path:
        key = _key(*parts.values())
        return self.root / kind / key[:2] / f"{key}.json"

    def _mac(self, entry: dict[str, object]) -> str:
        assert self.key is not None
        return mac(self.key, "bomguard-cache", _signed_text(entry))

    def _check(
        self, kind: str, parts: dict[str, str], raw: bytes
    ) -> tuple[dict[str, object], bytes | None] | None:
        """The entry and its body if intact; ``None`` if from an older bomguard."""
        try:
            data = json.loads(raw)
        except ValueError:
            raise _Dropped("is not JSON") from None
        if not isinstance(data, dict):
            raise _Dropped("is not a JSON object")
        fmt = data.get("format")
        if isinstance(fmt, int) and not isinstance(fmt, bool) and 0 < fmt < _FORMAT:
            return None  # written by an older bomguard: not trusted, not suspicious
        tag = data.get("mac")
        if fmt != _FORMAT or not isinstance(tag, str):
            raise _Dropped("has no MAC")
        if not hmac.compare_digest(tag, self._mac(data)):
            raise _Dropped("has a MAC that does not match its contents")
        if data.get("kind") != kind or any(data.get(k) != v for k, v in parts.items()):
            raise _Dropped("was moved from another entry")
        if kind == _DIGESTS:
            return data, None  # a digest entry has no body
        encoded, digest = data.get("body"), data.get("body_sha256")
        if not isinstance(encoded, str):
            raise _Dropped("has no body")
        try:
            body = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise _Dropped("has a body that is not base64") from None
        if not isinstance(digest, str) or hashlib.sha256(body).hexdigest() != digest:
            raise _Dropped("has a body that does not match its recorded sha256")
        return data, body

    def _get(
        self, kind: str, parts: dict[str, str], what: str
    ) -> tuple[dict[str, object], bytes | None] | None:
        if self.key is None:
            return None
        path = self._path(kind, parts)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            return self._check(kind, parts, raw)
        except _Dropped as problem:
            with contextlib.suppress(OSError):
                path.unlink()
            if self.on_tampered is not None:
                self.on_tampered(
                    f"the cached {_LABEL[kind]} {what} {problem}; dropped and fetched again"
                )
            return None

    def _put(
        self, kind: str, parts: dict[str, str], fields: dict[str, object], body: bytes | None
    ) -> None:
        if self.key is None:
            return
        entry: dict[str, object] = {"format": _FORMAT, "kind": kind, **parts, **fields}
        if body is not None:
            entry["body_sha256"] = hashlib.sha256(body).hexdigest()
        entry["mac"] = self._mac(entry)
        if body is not None:
            entry["body"] = base64.b64encode(body).decode("ascii")
        self._write(self._path(kind, parts), entry)

    def _write(self, path: Path, data: dict[str, object]) -> None:
        tmp: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            tmp = Path(name)
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(data).encode("utf-8"))
            tmp.replace(path)
        except OSError:
            # A cache that cannot be written is only slower, never wrong.
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    # -- provenance ------------------------------------------------------------------

    @staticmethod
    def _provenance_parts(origin: str, filename: str, sha256: str) -> dict[str, str]:
        return {"origin": origin, "filename": filename, "sha256": sha256}

    def get_provenance(self, origin: str, filename: str, sha256: str) -> bytes | None:
        """Cached provenance for this file of this index, if whole and authentic."""
        parts = self._provenance_parts(origin, filename, sha256)
        found = self._get(_PROVENANCE, parts, f"for {filename} (from {origin})")
        return found[1] if found is not None else None

    def put_provenance(self, origin: str, filename: str, sha256: str, body: bytes) -> None:
        """Store provenance fetched for a file whose sha256 is known."""
        self._put(_PROVENANCE, self._provenance_parts(origin, filename, sha256), {}, body)

    # -- project pages ---------------------------------------------------------------

    def get_page(self, url: str) -> CachedPage | None:
        """A cached project page (to revalidate before use unless still fresh)."""
        found = self._get(_PAGES, {"url": url}, url)
        if found is None:
            return None
        data, body = found
        assert body is not None  # a page entry always has one (else it is dropped)
        etag, modified = data.get("etag"), data.get("last_modified")
        return CachedPage(
            url=url,
            body=body,
            content_type=str(data.get("content_type", "")),
            etag=etag if isinstance(etag, str) else None,
            last_modified=modified if isinstance(modified, str) else None,
            fresh_until=trusted_fresh_until(
                data.get("fresh_until"), data.get("stored_at"), time.time()
            ),
        )

    def put_page(self, page: CachedPage) -> None:
        """Store a project page with its validators or freshness (only pages that have one).

        The freshness is stored as given; reading enforces :data:`MAX_FRESH_SECONDS`.
        """
        if page.etag is None and page.last_modified is None and page.fresh_until <= 0:
            return
        fields: dict[str, object] = {
            "content_type": page.content_type,
            "etag": page.etag,
            "last_modified": page.last_modified,
            "fresh_until": page.fresh_until,
            "stored_at": time.time(),
        }
        self._put(_PAGES, {"url": page.url}, fields, page.body)

    # -- downloaded files' digests ----------------------------------------------------

    @staticmethod
    def _digest_parts(origin: str, url: str, expected: str) -> dict[str, str]:
        return {"origin": origin, "url": url, "expected_sha256": expected}

    def get_digest(self, origin: str, url: str, expected: str) -> str | None:
        """The sha256 computed earlier over the bytes ``url`` served, if cached."""
        found = self._get(_DIGESTS, self._digest_parts(origin, url, expected), url)
        if found is None:
            return None
        digest = found[0].get("sha256")
        return digest if isinstance(digest, str) else None

    def put_digest(self, origin: str, url: str, expected: str, sha256: str, size: int) -> None:
        """Store the sha256 of the bytes downloaded from ``url`` (never the bytes)."""
        fields: dict[str, object] = {"sha256": sha256, "size": size}
        self._put(_DIGESTS, self._digest_parts(origin, url, expected), fields, None)
