"""The index's view of the evidence store: project pages, provenance and file digests.

- Provenance is immutable once keyed by index origin + filename + sha256: a cached entry
  is used without any request.
- Project pages change: they are stored with their ``ETag`` / ``Last-Modified`` and
  revalidated with a conditional request on every run, unless the index's
  ``Cache-Control`` made them fresh for a while (at most :data:`MAX_FRESH_SECONDS`).
- A downloaded distribution file's sha256 (``--hash-files``) is stored under index
  origin + file URL + the sha256 it was expected to have; only the digest, never the bytes.

Entries live in the store (:mod:`bomguard.store`) as authenticated rows: an HMAC-SHA256
under the store key over their kind, their key parts, their validators and the sha256 of
their body. A row whose MAC, body or key parts do not check out is dropped, reported through
``on_tampered`` and fetched again, never trusted.

A page's freshness is a row of its own (``fresh``), bound to the page's body sha256, so a
304 rewrites only that small row, never the page. The freshness bound is enforced when it is
read, not only when it is written. A page the index sent without ``Cache-Control`` is not
fresh at all: it is revalidated (one conditional request) on every run, because a stale page
can hide a yanked file or provenance the index stopped advertising. PyPI sends
``max-age``; ``--revalidate`` asks again even then.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bomguard.store import Store

__all__ = [
    "MAX_FRESH_SECONDS",
    "CachedPage",
    "StoreCache",
    "default_cache_dir",
    "fresh_until",
    "row_key",
]

MAX_FRESH_SECONDS = 24 * 3600
"""The longest a project page is used without asking the index again."""
CLAIM_WAIT = 60.0
"""How long a run waits for provenance another run sharing the store is fetching."""

Tampered = Callable[[str], None]
"""Called with one sentence naming a dropped entry (kind, URL or file) and its problem."""

_PAGES, _FRESH, _PROVENANCE, _DIGESTS = "pages", "fresh", "provenance", "digests"
_LABEL = {
    _PAGES: "project page",
    _FRESH: "freshness of the project page",
    _PROVENANCE: "provenance",
    _DIGESTS: "file digest",
}


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
    served_from: str = ""
    """The path (and query) the index served the page from after a redirect on its own
    origin, which relative URLs in it resolve against; empty: ``url`` itself."""


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


def row_key(*parts: str) -> str:
    """The row key for an entry's key parts (no secret in it: anyone can compute it)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


class StoreCache:
    """The index client's cache calls, answered by a store; thread-safe.

    Writes are queued to the store's writer thread; reads are plain lookups meant to be
    run off the event loop (``asyncio.to_thread``).
    """

    def __init__(
        self, store: Store, on_tampered: Tampered | None = None, revalidate: bool = False
    ) -> None:
        self.store = store
        self.on_tampered = on_tampered
        self.revalidate = revalidate
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def _get(
        self, kind: str, parts: dict[str, str], what: str
    ) -> tuple[dict[str, object], bytes | None] | None:
        found = self.store.get(
            kind, row_key(*parts.values()), f"the cached {_LABEL[kind]} {what}", self.on_tampered
        )
        return self._own(kind, parts, what, found)

    def _own(
        self,
        kind: str,
        parts: dict[str, str],
        what: str,
        found: tuple[dict[str, object], bytes | None] | None,
    ) -> tuple[dict[str, object], bytes | None] | None:
        """``found`` if it is this entry's own (its key parts match), else ``None``."""
        if found is None:
            return None
        data, body = found
        if any(data.get(k) != v for k, v in parts.items()):
            # Authentic, but another entry's: only a copy between keys does this.
            if self.on_tampered is not None:
                self.on_tampered(
                    f"the cached {_LABEL[kind]} {what} was moved from another entry; "
                    "dropped and fetched again"
                )
            return None
        return data, body

    def _get_many(
        self, kind: str, entries: Sequence[tuple[dict[str, str], str]]
    ) -> list[tuple[dict[str, object], bytes | None] | None]:
        """:meth:`_get` for many ``(parts, what)`` at once: one store query, same checks."""
        keys = [row_key(*parts.values()) for parts, _ in entries]
        names = dict(zip(keys, (what for _, what in entries), strict=True))
        found = self.store.get_many(
            kind,
            list(dict.fromkeys(keys)),
            lambda key: f"the cached {_LABEL[kind]} {names[key]}",
            self.on_tampered,
        )
        return [
            self._own(kind, parts, what, found.get(key))
            for key, (parts, what) in zip(keys, entries, strict=True)
        ]

    def _put(
        self, kind: str, parts: dict[str, str], fields: dict[str, object], body: bytes | None
    ) -> None:
        self.store.put(kind, row_key(*parts.values()), {**parts, **fields}, body)

    # -- provenance ------------------------------------------------------------------

    @staticmethod
    def _provenance_parts(origin: str, filename: str, sha256: str) -> dict[str, str]:
        return {"origin": origin, "filename": filename, "sha256": sha256}

    def get_provenance(self, origin: str, filename: str, sha256: str) -> bytes | None:
        """Stored provenance for this file of this index, if whole and authentic."""
        parts = self._provenance_parts(origin, filename, sha256)
        found = self._get(_PROVENANCE, parts, f"for {filename} (from {origin})")
        return found[1] if found is not None else None

    def get_provenances(self, files: Sequence[tuple[str, str, str]]) -> list[bytes | None]:
        """:meth:`get_provenance` for many ``(origin, filename, sha256)`` at once."""
        found = self._get_many(
            _PROVENANCE,
            [(self._provenance_parts(*file), f"for {file[1]} (from {file[0]})") for file in files],
        )
        return [hit[1] if hit is not None else None for hit in found]

    async def await_provenance(self, origin: str, filename: str, sha256: str) -> bytes | None:
        """Provenance another run sharing the store claimed to fetch, once it is stored.

        ``None`` at once when no one else holds the claim (this run takes it and fetches),
        or when the other run does not deliver within :data:`CLAIM_WAIT` seconds.
        """
        import asyncio

        claim = "fetch:" + row_key(origin, filename, sha256)
        if await asyncio.to_thread(self.store.claim, claim, self.owner, CLAIM_WAIT):
            # Ours now; the run that held it before may have stored it meanwhile.
            return await asyncio.to_thread(self.get_provenance, origin, filename, sha256)
        deadline = time.monotonic() + CLAIM_WAIT
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            hit = await asyncio.to_thread(self.get_provenance, origin, filename, sha256)
            if hit is not None:
                return hit
            if await asyncio.to_thread(self.store.claim, claim, self.owner, CLAIM_WAIT):
                return None  # the other run gave up (or died): fetch it here
        return None

    def give_up_provenance(self, origin: str, filename: str, sha256: str) -> None:
        """This run could not fetch it: let a waiting run try."""
        self.store.release("fetch:" + row_key(origin, filename, sha256), self.owner)

    def put_provenance(self, origin: str, filename: str, sha256: str, body: bytes) -> None:
        """Store provenance fetched for a file whose sha256 is known."""
        self._put(_PROVENANCE, self._provenance_parts(origin, filename, sha256), {}, body)

    # -- project pages ---------------------------------------------------------------

    def get_page(self, url: str) -> CachedPage | None:
        """A stored project page (to revalidate before use unless still fresh)."""
        found = self._get(_PAGES, {"url": url}, url)
        if found is None or found[1] is None:
            return None
        freshness = None if self.revalidate else self._get(_FRESH, {"url": url}, url)
        return self._page(url, found, freshness)

    def get_pages(self, urls: Sequence[str]) -> list[CachedPage | None]:
        """:meth:`get_page` for many URLs at once (two store queries in all)."""
        pages = self._get_many(_PAGES, [({"url": url}, url) for url in urls])
        found = [i for i, page in enumerate(pages) if page is not None and page[1] is not None]
        usable = set(found)
        fresh: dict[int, tuple[dict[str, object], bytes | None] | None] = {}
        if found and not self.revalidate:
            hits = self._get_many(_FRESH, [({"url": urls[i]}, urls[i]) for i in found])
            fresh = dict(zip(found, hits, strict=True))
        return [
            self._page(url, page, fresh.get(i)) if i in usable else None
            for i, (url, page) in enumerate(zip(urls, pages, strict=True))
        ]

    def _page(
        self,
        url: str,
        found: tuple[dict[str, object], bytes | None] | None,
        freshness: tuple[dict[str, object], bytes | None] | None,
    ) -> CachedPage | None:
        if found is None:
            return None
        data, body = found
        if body is None:
            return None
        etag, modified = data.get("etag"), data.get("last_modified")
        fresh = 0.0
        if freshness is not None and freshness[0].get("body_of") == data.get("body_sha256"):
            fresh = trusted_fresh_until(
                freshness[0].get("fresh_until"), freshness[0].get("stored_at"), time.time()
            )
        served = data.get("served_from")
        return CachedPage(
            url=url,
            body=body,
            content_type=str(data.get("content_type", "")),
            etag=etag if isinstance(etag, str) else None,
            last_modified=modified if isinstance(modified, str) else None,
            fresh_until=fresh,
            served_from=served if isinstance(served, str) and served.startswith("/") else "",
        )

    def put_page(self, page: CachedPage) -> None:
        """Store a project page with its validators and freshness (only pages that have one).

        The freshness is stored as given; reading enforces :data:`MAX_FRESH_SECONDS`.
        """
        if page.etag is None and page.last_modified is None and page.fresh_until <= 0:
            return
        fields: dict[str, object] = {
            "content_type": page.content_type,
            "etag": page.etag,
            "last_modified": page.last_modified,
        }
        if page.served_from:
            fields["served_from"] = page.served_from
        self._put(_PAGES, {"url": page.url}, fields, page.body)
        self.touch_page(page)

    def touch_page(self, page: CachedPage) -> None:
        """Record a revalidated page's new freshness (a 304): the page itself stays."""
        fields: dict[str, object] = {
            "body_of": hashlib.sha256(page.body).hexdigest(),
            "fresh_until": page.fresh_until,
            "stored_at": time.time(),
        }
        self._put(_FRESH, {"url": page.url}, fields, None)

    # -- downloaded files' digests ----------------------------------------------------

    @staticmethod
    def _digest_parts(origin: str, url: str, expected: str) -> dict[str, str]:
        return {"origin": origin, "url": url, "expected_sha256": expected}

    def get_digest(self, origin: str, url: str, expected: str) -> str | None:
        """The sha256 computed earlier over the bytes ``url`` served, if stored."""
        found = self._get(_DIGESTS, self._digest_parts(origin, url, expected), url)
        if found is None:
            return None
        digest = found[0].get("sha256")
        return digest if isinstance(digest, str) else None

    def put_digest(self, origin: str, url: str, expected: str, sha256: str, size: int) -> None:
        """Store the sha256 of the bytes downloaded from ``url`` (never the bytes)."""
        fields: dict[str, object] = {"sha256": sha256, "size": size}
        self._put(_DIGESTS, self._digest_parts(origin, url, expected), fields, None)
