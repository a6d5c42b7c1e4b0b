"""A PEP 503/691 index client with PEP 740 provenance (the Integrity API).

One shared async httpx client (in small connection pools, :mod:`._shards`, over the
HTTP/1.1 transport of :mod:`._transport`), bounded concurrency, one project-page fetch
per project, retries with backoff on 429/5xx/connection errors. Every failure becomes an ``unknown``
file or release with a reason; nothing here ever turns a failure into ``absent``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import json
import random
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bomguard import __version__
from bomguard.distname import parse_dist_filename
from bomguard.errors import InputError
from bomguard.index._batchread import BatchedReads
from bomguard.index.cache import CachedPage, StoreCache, fresh_until
from bomguard.index.interface import FetchedFile, FetchState, ReleaseFetch, ReleaseRequest
from bomguard.index.mirror import Mirror, MirrorError

if TYPE_CHECKING:
    # Imported when a client is first used (_Client._build_http): a --mirror run needs none.
    import httpx

    from bomguard.index._shards import ShardedClient

__all__ = [
    "DEFAULT_INDEX_URL",
    "MAX_FILE_BYTES",
    "IndexOptions",
    "fetch_releases",
    "index_url_problem",
    "redact_url",
]

DEFAULT_INDEX_URL = "https://pypi.org/simple/"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
INTEGRITY_JSON = "application/vnd.pypi.integrity.v1+json"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MISSING = object()
_HEX = frozenset("0123456789abcdef")
MAX_FILE_BYTES = 1024**3
"""The largest distribution file ``--hash-files`` downloads (1 GiB) by default."""
_FILE_HOSTS: dict[tuple[str, str, int | None], str] = {
    ("https", "pypi.org", 443): "files.pythonhosted.org"
}
"""Indexes whose files are served from another host of the same operator."""

Observer = Callable[[str, str], None]
"""Progress callback: ``(event, detail)``; events are ``page``, ``provenance``,
``download``, ``retry`` and ``cache-tampered`` (the detail is a sentence for the user)."""


def index_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as an index URL, or ``None`` when it is usable."""
    if not url:
        return "is empty"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number or out of range
    except ValueError as err:
        return f"is not a valid URL ({err})"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    return None


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """How to talk to the index."""

    index_url: str = DEFAULT_INDEX_URL
    concurrency: int = 64
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_retry_wait: float = 30.0
    max_page_bytes: int = 64 * 1024 * 1024
    max_provenance_bytes: int = 16 * 1024 * 1024
    allowed_provenance_hosts: frozenset[str] = field(default_factory=frozenset)
    cache_dir: Path | None = None
    """A cache directory: the store is ``cache_dir/bomguard.sqlite3`` (unless ``store``)."""
    store: str | None = None
    """The evidence store: a SQLite file path or a ``postgresql://`` DSN (provenance and
    results kept for good, pages revalidated). With neither this nor ``cache_dir``: none."""
    revalidate: bool = False
    """Ask the index about every stored page, even one its ``Cache-Control`` keeps fresh."""
    mirror: Path | None = None
    """Read pages and provenance from a ``bomguard fetch`` directory: no network at all."""
    cert: Path | None = None
    """CA bundle for a private index (``SSL_CERT_FILE`` is honoured too)."""
    extra_index_urls: tuple[str, ...] = ()
    """Other indexes components may name (``repository_url``); their credentials apply too."""
    use_netrc: bool = True
    """Take credentials for the index from ``~/.netrc`` when the URL has none."""
    hash_files: bool = False
    """Download every distribution file and bind verification to the sha256 of the bytes
    received; bytes other than the index advertises are ``invalid``."""
    max_file_bytes: int = MAX_FILE_BYTES
    """With ``hash_files``: a larger file is not downloaded whole (the file is ``unknown``)."""

    def __post_init__(self) -> None:
        for url in (self.index_url, *self.extra_index_urls):
            problem = index_url_problem(url)
            if problem is not None:
                raise InputError(f"index URL {redact_url(url)!r} {problem}")


def store_location(options: IndexOptions) -> str | None:
    """Where the store is for ``options`` (``None``: no store)."""
    if options.mirror is not None:
        return None
    if options.store is not None:
        return options.store
    if options.cache_dir is not None:
        from bomguard.store import STORE_FILENAME

        return str(options.cache_dir / STORE_FILENAME)
    return None


def redact_url(url: str) -> str:
    """The URL without any user name or password in it (also for a URL that does not parse)."""
    if "@" not in url:
        return url  # no user information to remove
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        scheme, sep, rest = url.partition("//")
        if not sep:
            return url
        authority, slash, path = rest.partition("/")
        return f"{scheme}{sep}{authority.rpartition('@')[2]}{slash}{path}"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9._~:@!$&'()*+,=%-][A-Za-z0-9._~:@!$&'()*+,=%/-]*")
"""An absolute http(s) URL with a host and nothing ``urljoin`` would rewrite (no query,
fragment, parameters, brackets, spaces, controls or non-ASCII)."""


def _join(base: str, href: str) -> str:
    """``urljoin(base, href)``; an index's own absolute URLs (PyPI gives every file and
    provenance URL so) are returned as they are, which is what ``urljoin`` returns for them,
    without its cost (most of a page's parsing)."""
    if _PLAIN_ABSOLUTE.fullmatch(href):
        return href
    return urljoin(base, href)


def _served_from(url: str, final_url: str) -> str:
    """The path and query of ``final_url`` when a redirect (on the same origin) moved the
    page away from ``url``; else empty."""
    if final_url == url:
        return ""
    parts = urlsplit(final_url)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.path else ""


def project_page_url(index_url: str, project: str) -> str:
    """The URL of ``project``'s page on the index at ``index_url``."""
    base = index_url if index_url.endswith("/") else index_url + "/"
    return urljoin(base, f"{canonicalize_name(project)}/")


def _origin(url: str) -> tuple[str, str, int | None]:
    """A URL's scheme, host and port; a URL that does not parse (a port out of range or
    not a number, an unclosed bracket) has an origin no index URL has (no scheme)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return "", "", None
    return parts.scheme, (parts.hostname or "").lower(), port


@functools.lru_cache(maxsize=64)
def _index_origin(index_url: str) -> tuple[tuple[str, str, int | None], str, str | None]:
    """An index URL's origin, that origin as the cache keys it, and the prefix (scheme
    and authority, as written) that a URL on the same origin may start with."""
    origin = _origin(index_url)
    scheme, sep, rest = index_url.partition("://")
    authority = rest.split("/", 1)[0]
    plain = sep and authority and not set(authority) & set("@?#[]\\")
    return origin, "{}://{}:{}".format(*origin), f"{scheme}://{authority}/" if plain else None


def _on_index_origin(url: str, index_url: str) -> bool:
    """``_origin(url) == _origin(index_url)``, without parsing ``url`` when it starts
    with the index's own scheme and authority."""
    origin, _, prefix = _index_origin(index_url)
    if prefix is not None and url.startswith(prefix):
        return True
    return _origin(url) == origin


def _env_proxies() -> bool:
    """Whether the environment names an HTTP(S) proxy (``HTTPS_PROXY``, ``ALL_PROXY``...)."""
    from urllib.request import getproxies

    proxies = getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


class _Sink(Protocol):
    def feed(self, chunk: bytes) -> None: ...


class _Collect:
    """Keeps a response body (pages and provenance, which are size-capped)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self.chunks.append(chunk)


class _Digest:
    """Hashes a response body as it streams in; nothing of it is kept."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.size += len(chunk)


_S = TypeVar("_S", bound=_Sink)


class _Failure(Exception):
    """A request that did not produce a usable answer; ``reason`` says why."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _PageFile:
    filename: str
    url: str
    sha256: str | None
    provenance: object  # str URL, None (null), or _MISSING (key absent)
    sha256_problem: str | None = None
    """Why the index's sha256 for the file is unusable (empty, not hex, wrong length)."""
    sha256_from_sbom: bool = False
    """``sha256`` is the SBOM's: the index gives none."""


def _index_sha256(value: object) -> tuple[str | None, str | None]:
    """The index's sha256 for a file (lower-case hex), or why it is unusable."""
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, f"the index gives a sha256 that is not a string ({type(value).__name__})"
    digest = value.lower()
    if not digest:
        return None, "the index gives no sha256 (an empty digest)"
    if not set(digest) <= _HEX:
        return None, f"the index gives a sha256 that is not hexadecimal ({value[:80]!r})"
    if len(digest) != 64:
        return None, f"the index gives a sha256 of {len(digest)} hex digits, not 64"
    return digest, None


class _HtmlPage(HTMLParser):
    """PEP 503 page: anchors with ``data-provenance`` (PEP 740)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


class _Client:
    def __init__(self, options: IndexOptions, observer: Observer | None) -> None:
        self.options = options
        self.observer = observer
        self.limit = asyncio.Semaphore(max(1, options.concurrency))
        self.pages: dict[tuple[str, str], asyncio.Future[list[_PageFile]]] = {}
        self.cache: StoreCache | None = None
        self.reads: BatchedReads | None = None  # the cache's reads, batched
        location = store_location(options)
        if location is not None:
            from bomguard.store import shared_store

            store = shared_store(location)  # no key: no store
            if store is not None:
                self.cache = StoreCache(store, self._tampered, options.revalidate)
                self.reads = BatchedReads(self.cache)
        self.mirror = Mirror.open(options.mirror) if options.mirror is not None else None
        self._http: ShardedClient | None = None

    @property
    def http(self) -> ShardedClient:
        """The HTTP client, built (and httpx imported) when first asked for."""
        if self._http is None:
            self._http = self._build_http()
        return self._http

    def _build_http(self) -> ShardedClient:
        from bomguard._httpx import load

        load()  # first: httpx without its command-line client
        import httpx

        from bomguard.index._auth import IndexAuth
        from bomguard.index._cookies import ResponseCookies
        from bomguard.index._shards import ShardedClient
        from bomguard.index._transport import PoolTransport

        options = self.options
        # One TLS context for every shard (building one reads the CA bundle, ~30 ms); the
        # default one is made with the first shard, a --cert one at once.
        tls: list[ssl.SSLContext] = []
        if options.cert is not None:
            tls.append(ssl.create_default_context(cafile=str(options.cert)))

        def verify() -> ssl.SSLContext:
            if not tls:
                tls.append(httpx.create_ssl_context(trust_env=True))
            return tls[0]

        auth = IndexAuth(options.use_netrc, (options.index_url, *options.extra_index_urls))
        # Our own HTTP/1.1 transport (index/_transport.py), except through a proxy from the
        # environment: httpx honours those only with its own transport.
        own_transport = not _env_proxies()

        def shard(connections: int) -> httpx.AsyncClient:
            client = httpx.AsyncClient(
                transport=PoolTransport(verify, connections) if own_transport else None,
                timeout=httpx.Timeout(options.timeout),
                follow_redirects=False,
                headers={"User-Agent": f"bomguard/{__version__}"},
                limits=httpx.Limits(
                    max_connections=connections,
                    # httpx keeps only 20 idle connections by default: above that every
                    # request would close one connection and open another.
                    max_keepalive_connections=connections,
                ),
                trust_env=True,
                verify=verify(),
                auth=auth,
            )
            client._cookies = ResponseCookies()  # no jar work for responses without Set-Cookie
            return client

        # Several small pools: one httpx pool's cost per request grows with its size.
        return ShardedClient(max(1, options.concurrency), shard)

    def _notify(self, event: str, detail: str) -> None:
        if self.observer is not None:
            self.observer(event, detail)

    def _tampered(self, detail: str) -> None:
        self._notify("cache-tampered", detail)

    async def get(
        self, url: str, accept: str, max_bytes: int, headers: dict[str, str] | None = None
    ) -> tuple[httpx.Response, bytes]:
        """GET with retries; redirects are followed only within the URL's own origin.

        A 304 answer (to a conditional request) is returned with an empty body.
        """
        response, body = await self._request(url, accept, max_bytes, headers or {}, _Collect)
        return response, b"".join(body.chunks)

    async def _request(
        self,
        url: str,
        accept: str,
        max_bytes: int,
        headers: dict[str, str],
        new_sink: Callable[[], _S],
    ) -> tuple[httpx.Response, _S]:
        """:meth:`get`, streaming the body into a fresh ``new_sink()`` on each attempt."""
        attempt = 0
        while True:
            try:
                sink = new_sink()
                return await self._get_once(url, accept, max_bytes, headers, sink), sink
            except _Failure as failure:
                retryable = failure.status is None or failure.status in _RETRY_STATUSES
                if failure.status == 0 or not retryable or attempt >= self.options.retries:
                    raise
                wait = failure.retry_after
                if wait is None:
                    wait = self.options.backoff * (2**attempt) * (0.5 + random.random())
                attempt += 1
                self._notify("retry", f"{redact_url(url)}: {failure.reason}")
                await asyncio.sleep(min(wait, self.options.max_retry_wait))

    async def _get_once(
        self, url: str, accept: str, max_bytes: int, headers: dict[str, str], sink: _Sink
    ) -> httpx.Response:
        http = self.http
        import httpx  # loaded by self.http

        current = url
        async with self.limit:
            for _ in range(5):
                try:
                    async with http.stream(
                        "GET", current, headers={"Accept": accept, **headers}
                    ) as response:
                        if response.status_code == 304:
                            await response.aread()  # (empty) lets the connection be reused
                            return response
                        if response.is_redirect:
                            await response.aread()
                            try:
                                target = urljoin(current, response.headers.get("location", ""))
                            except ValueError:  # an unclosed IPv6 bracket
                                target = ""  # no origin: refused below
                            if _origin(target) != _origin(url):
                                raise _Failure(
                                    f"redirected off the index's origin to "
                                    f"{redact_url(target)}; refused",
                                    status=0,
                                )
                            current = target
                            continue
                        if response.status_code != 200:
                            failure = _Failure(f"HTTP {response.status_code}", response.status_code)
                            retry_after = response.headers.get("retry-after")
                            if retry_after is not None:
                                with contextlib.suppress(ValueError):
                                    failure.retry_after = max(0.0, float(retry_after))
                            raise failure
                        declared = response.headers.get("content-length")
                        if (
                            declared is not None
                            and declared.isdigit()
                            and int(declared) > max_bytes
                        ):
                            raise _Failure(f"response larger than the {max_bytes}-byte limit", 0)
                        size = 0
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > max_bytes:
                                raise _Failure(
                                    f"response larger than the {max_bytes}-byte limit", 0
                                )
                            sink.feed(chunk)
                        return response
                except httpx.TimeoutException as err:
                    raise _Failure(f"timed out ({type(err).__name__})") from err
                except httpx.TransportError as err:
                    raise _Failure(f"connection failed: {err or type(err).__name__}") from err
            raise _Failure("too many redirects", 0)

    # -- project pages ----------------------------------------------------------------

    def page(self, index_url: str, project: str) -> asyncio.Future[list[_PageFile]]:
        key = (index_url, project)
        if key not in self.pages:
            self.pages[key] = asyncio.ensure_future(self._page_once(index_url, project))
        return self.pages[key]

    async def _page_once(self, index_url: str, project: str) -> list[_PageFile]:
        """``_fetch_page``, failing with a bare ``_Failure``: a page task's exception is
        kept for the whole run, and one raised inside the request code would keep its
        frames, response and context alive with it (gigabytes over 100,000 projects)."""
        try:
            return await self._fetch_page(index_url, project)
        except _Failure as failure:
            reason, status = failure.reason, failure.status
        raise _Failure(reason, status)

    async def _fetch_page(self, index_url: str, project: str) -> list[_PageFile]:
        url = project_page_url(index_url, project)
        if self.mirror is not None:
            try:
                return self._parse_json(self.mirror.page(project), url)
            except MirrorError as err:
                raise _Failure(str(err), 0) from err
        cached = await self.reads.page(redact_url(url)) if self.reads is not None else None
        if cached is not None and cached.fresh_until > time.time():
            # Still fresh by the index's own Cache-Control: no request at all.
            return self.parse_stored(cached, url)
        self._notify("page", project)
        conditional = {}
        if cached is not None and cached.etag:
            conditional["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            conditional["If-Modified-Since"] = cached.last_modified
        try:
            response, body = await self.get(
                url, f"{SIMPLE_JSON}, text/html;q=0.1", self.options.max_page_bytes, conditional
            )
        except _Failure as failure:
            if failure.status == 404:
                raise _Failure("project not found on the index (HTTP 404)", 404) from None
            raise
        final_url = str(response.url)
        if response.status_code == 304 and cached is not None:
            body, content_type = cached.body, cached.content_type
            if self.cache is not None:
                self.cache.touch_page(
                    replace(
                        cached,
                        fresh_until=fresh_until(response.headers.get("cache-control"), time.time()),
                    )
                )
        else:
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            if self.cache is not None:
                self.cache.put_page(
                    CachedPage(
                        url=redact_url(url),
                        body=body,
                        content_type=content_type,
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                        fresh_until=fresh_until(response.headers.get("cache-control"), time.time()),
                        served_from=_served_from(url, final_url),
                    )
                )
        return self._parse_typed(body, content_type, final_url)

    def parse_stored(self, cached: CachedPage, url: str) -> list[_PageFile]:
        """The files of a stored page (of ``url``), its relative URLs resolved against where
        the index served it from, as when it was fetched; raises ``_Failure`` when it does
        not parse."""
        base = url
        if cached.served_from:
            # The same origin as asked (redirects never leave it), the path it was served from.
            path, _, query = cached.served_from.partition("?")
            base = urlunsplit(urlsplit(url)._replace(path=path, query=query, fragment=""))
        return self._parse_typed(cached.body, cached.content_type, base)

    def _parse_typed(self, body: bytes, content_type: str, url: str) -> list[_PageFile]:
        """The files of a page sent as ``content_type``: a page of another type is refused,
        whether it just came or was stored (a stored page is the one the index sent)."""
        if content_type in (SIMPLE_JSON, "application/json"):
            return self._parse_json(body, url)
        if content_type in ("text/html", ""):
            return self._parse_html(body, url)
        raise _Failure(f"project page has unexpected content type {content_type!r}", 0)

    def _parse_json(self, body: bytes, page_url: str) -> list[_PageFile]:
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise _Failure(f"project page is not valid JSON (truncated?): {err}", 0) from err
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, list):
            raise _Failure("project page has no 'files' list", 0)
        try:
            return self._json_files(files, page_url)
        except ValueError as err:  # urljoin refuses the URL (an unclosed IPv6 bracket)
            raise _Failure(f"project page has a URL that does not parse ({err})", 0) from None

    def _json_files(self, files: list[Any], page_url: str) -> list[_PageFile]:
        out = []
        for entry in files:
            if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
                continue
            hashes = entry.get("hashes")
            if hashes is None or isinstance(hashes, dict):
                sha, problem = _index_sha256(hashes.get("sha256") if hashes else None)
            else:
                sha, problem = None, "the index gives 'hashes' that are not a JSON object"
            href = entry.get("url")
            prov = entry.get("provenance", _MISSING)
            if isinstance(prov, str):
                prov = _join(page_url, prov)
            elif prov is not None and prov is not _MISSING:
                prov = _MISSING
            out.append(
                _PageFile(
                    filename=entry["filename"],
                    url=_join(page_url, href) if isinstance(href, str) and href else "",
                    sha256=sha,
                    provenance=prov,
                    sha256_problem=problem,
                )
            )
        return out

    def _parse_html(self, body: bytes, page_url: str) -> list[_PageFile]:
        parser = _HtmlPage()
        try:
            parser.feed(body.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise _Failure("project page is not UTF-8", 0) from err
        try:
            return self._html_files(parser, page_url)
        except ValueError as err:  # urljoin refuses the URL (an unclosed IPv6 bracket)
            raise _Failure(f"project page has a URL that does not parse ({err})", 0) from None

    def _html_files(self, parser: _HtmlPage, page_url: str) -> list[_PageFile]:
        out = []
        for anchor in parser.anchors:
            href = anchor.get("href") or ""
            absolute = urljoin(page_url, href)
            base, _, fragment = absolute.partition("#")
            filename = unquote(base.rsplit("/", 1)[-1])
            sha, problem = _index_sha256(
                fragment[len("sha256=") :] if fragment.startswith("sha256=") else None
            )
            prov: object = _MISSING
            if anchor.get("data-provenance"):
                # PEP 740: the attribute names the provenance URL. An HTML page cannot say
                # "no provenance" (there is no null), so a missing or empty attribute is
                # "not advertised", never "absent".
                prov = urljoin(page_url, str(anchor["data-provenance"]))
            out.append(
                _PageFile(
                    filename=filename, url=base, sha256=sha, provenance=prov, sha256_problem=problem
                )
            )
        return out

    # -- one file -------------------------------------------------------------------

    async def file(self, index_url: str, page_file: _PageFile) -> FetchedFile:
        """The file's provenance and, with ``hash_files``, the digest of its bytes."""
        if page_file.sha256_problem is not None:
            return unusable_digest(page_file)
        if not self.options.hash_files:
            return await self.provenance(index_url, page_file)
        fetched, (received, problem) = await asyncio.gather(
            self.provenance(index_url, page_file), self.download(index_url, page_file)
        )
        return _bind_download(fetched, page_file, received, problem)

    def _allowed_off_origin(self, index_url: str, url: str, files: bool = False) -> bool:
        """Whether ``url`` may be fetched although it is not on the index's origin."""
        if not _origin(url)[0]:
            return False  # a URL that does not parse is fetched from nowhere
        host = (urlsplit(url).hostname or "").lower()
        if host in self.options.allowed_provenance_hosts:
            return True
        known = _FILE_HOSTS.get(_origin(index_url))
        return files and known is not None and _origin(url) == ("https", known, 443)

    async def download(self, index_url: str, page_file: _PageFile) -> tuple[str | None, str]:
        """The sha256 of the bytes the file's URL serves, streamed (or why there is none)."""
        url = page_file.url
        shown = redact_url(url)
        if self.mirror is not None:
            return None, "a mirror holds no distribution files to hash (--hash-files)"
        if urlsplit(url).scheme not in ("http", "https"):
            return None, "the index gives no http(s) URL to download this file from"
        if _origin(url) != _origin(index_url) and not self._allowed_off_origin(
            index_url, url, files=True
        ):
            return None, f"file URL {shown} is not on the index's origin; refused"
        origin = "{}://{}:{}".format(*_origin(index_url))
        expected = page_file.sha256
        if self.cache is not None and expected:
            hit = await asyncio.to_thread(self.cache.get_digest, origin, shown, expected)
            if hit == expected:
                return hit, ""
        self._notify("download", page_file.filename)
        try:
            _, digest = await self._request(
                url, "application/octet-stream, */*", self.options.max_file_bytes, {}, _Digest
            )
        except _Failure as failure:
            return None, f"distribution download failed: {failure.reason}"
        received = digest.sha256.hexdigest()
        if self.cache is not None and expected and received == expected:
            self.cache.put_digest(origin, shown, expected, received, digest.size)
        return received, ""

    # -- provenance -------------------------------------------------------------------

    def provenance_start(
        self, index_url: str, page_file: _PageFile
    ) -> FetchedFile | tuple[FetchedFile, str, str]:
        """What the page alone says about a file's provenance: the answer (not advertised,
        absent, refused), or ``(base, url, origin)`` to look it up by (the file's
        result so far, the provenance URL, and the index's origin as the cache keys it)."""
        base = FetchedFile(
            filename=page_file.filename,
            sha256=page_file.sha256,
            state=FetchState.UNKNOWN,
            url=redact_url(page_file.url),
        )
        if page_file.provenance is _MISSING:
            return replace(
                base, reason="the index does not advertise PEP 740 provenance for this file"
            )
        if page_file.provenance is None:
            return replace(base, state=FetchState.ABSENT, reason="no provenance published")
        url = str(page_file.provenance)
        shown = redact_url(url)
        base = replace(base, provenance_url=shown)
        off_origin = not _on_index_origin(url, index_url)
        if self.mirror is None and off_origin and not self._allowed_off_origin(index_url, url):
            return replace(
                base, reason=f"provenance URL {shown} is not on the index's origin; refused"
            )
        return base, url, _index_origin(index_url)[1]

    async def provenance(self, index_url: str, page_file: _PageFile) -> FetchedFile:
        started = self.provenance_start(index_url, page_file)
        if isinstance(started, FetchedFile):
            return started
        base, url, origin = started
        if self.mirror is not None:
            try:
                body = self.mirror.provenance(page_file.filename, page_file.sha256)
            except MirrorError as err:
                return replace(base, reason=str(err))
            return replace(base, state=FetchState.PRESENT, provenance=body)
        if self.cache is not None and page_file.sha256:
            assert self.reads is not None
            hit = await self.reads.provenance(origin, page_file.filename, page_file.sha256)
            if hit is None:
                # Another run sharing the store may be fetching it right now: wait for it.
                hit = await self.cache.await_provenance(
                    origin, page_file.filename, page_file.sha256
                )
            if hit is not None:
                return replace(base, state=FetchState.PRESENT, provenance=hit)
        self._notify("provenance", page_file.filename)
        try:
            _, body = await self.get(url, INTEGRITY_JSON, self.options.max_provenance_bytes)
        except _Failure as failure:
            if failure.status == 404:
                reason = "the index advertised provenance but answered 404"
            elif failure.status == 403:
                reason = "provenance access disabled by the index (HTTP 403)"
            else:
                reason = f"provenance fetch failed: {failure.reason}"
            await self._give_up(origin, page_file)
            return replace(base, reason=reason)
        try:
            json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            await self._give_up(origin, page_file)
            return replace(base, reason="provenance response is truncated or not JSON")
        if self.cache is not None and page_file.sha256:
            self.cache.put_provenance(origin, page_file.filename, page_file.sha256, body)
        return replace(base, state=FetchState.PRESENT, provenance=body)

    async def _give_up(self, origin: str, page_file: _PageFile) -> None:
        if self.cache is not None and page_file.sha256:
            await asyncio.to_thread(
                self.cache.give_up_provenance, origin, page_file.filename, page_file.sha256
            )

    def shown_index(self, index_url: str) -> str:
        """The index as results name it (no credentials; a mirror says so)."""
        if self.mirror is not None:
            return f"{self.mirror.index_url} (mirror {self.options.mirror})"
        return redact_url(index_url)

    async def release(self, request: ReleaseRequest) -> ReleaseFetch:
        index_url = request.index_url or self.options.index_url
        shown_index = self.shown_index(index_url)
        try:
            page = await self.page(index_url, request.project)
        except _Failure as failure:
            return ReleaseFetch(request, error=failure.reason, index_url=shown_index)
        planned = plan_release(request, page, shown_index)
        if isinstance(planned, ReleaseFetch):
            return planned
        fetched = await asyncio.gather(*(self.file(index_url, f) for f in planned.selected))
        return planned.result(fetched)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    """Which files of a release to fetch, and how to turn them into its result."""

    request: ReleaseRequest
    selected: list[_PageFile]
    missing: list[FetchedFile]
    bound: set[str]
    shown_index: str
    versions: tuple[str, ...]

    def result(self, fetched: Sequence[FetchedFile]) -> ReleaseFetch:
        """The release's result, given the selected files' (in order)."""
        marked = [replace(f, sbom_sha256=f.filename in self.bound) for f in fetched]
        return ReleaseFetch(
            self.request,
            files=(*marked, *self.missing),
            index_url=self.shown_index,
            versions=self.versions,
        )


def plan_release(
    request: ReleaseRequest, page: list[_PageFile], shown_index: str
) -> ReleasePlan | ReleaseFetch:
    """The plan for ``request`` from its project's page, or its result if the page alone
    decides it (no such version, no files)."""
    by_version: dict[Version, list[_PageFile]] = {}
    for f in page:
        parsed = parse_dist_filename(f.filename)
        if parsed is not None:
            by_version.setdefault(parsed[1], []).append(f)
    versions = tuple(str(v) for v in sorted(by_version))
    try:
        wanted = Version(request.version)
    except InvalidVersion:
        return ReleaseFetch(
            request,
            error=f"{request.version!r} is not a PEP 440 version",
            index_url=shown_index,
        )
    release = by_version.get(wanted, [])
    if not release:
        return ReleaseFetch(
            request,
            error=f"version {request.version} has no files on the index",
            index_url=shown_index,
            versions=versions,
        )
    selected, missing, bound = _select(release, request)
    return ReleasePlan(request, selected, missing, bound, shown_index, versions)


def unusable_digest(page_file: _PageFile) -> FetchedFile:
    """The result of a file whose sha256 on the index is unusable: unknown, whatever else."""
    assert page_file.sha256_problem is not None
    return FetchedFile(
        filename=page_file.filename,
        sha256=None,
        state=FetchState.UNKNOWN,
        reason=page_file.sha256_problem,
        url=redact_url(page_file.url),
    )


def _select(
    release: list[_PageFile], request: ReleaseRequest
) -> tuple[list[_PageFile], list[FetchedFile], set[str]]:
    """Narrow a release to the files the SBOM names; name the ones the index lacks.

    Returns the selected files, placeholders for files the index lacks or contradicts,
    and the filenames whose sha256 the SBOM itself recorded.
    """
    if not request.refs:
        return release, [], set()
    selected: dict[str, _PageFile] = {}
    missing: list[FetchedFile] = []
    bound: set[str] = set()
    by_sha = {f.sha256: f for f in release if f.sha256}
    by_name = {f.filename: f for f in release}
    for filename, sha in sorted(request.refs, key=lambda r: (r[0] or "", r[1] or "")):
        named = by_name.get(filename) if filename else None
        if named is not None and named.sha256_problem is not None:
            selected[named.filename] = named  # unknown: the index's digest is unusable
            continue
        if named is not None and sha and named.sha256 and named.sha256 != sha:
            missing.append(
                FetchedFile(
                    filename=named.filename,
                    sha256=sha,
                    url=redact_url(named.url),
                    state=FetchState.CONFLICT,
                    reason=f"the SBOM's sha256 {sha} disagrees with the index's {named.sha256}",
                )
            )
            continue
        if named is not None and sha and named.sha256 is None:
            # The index gives no digest: the SBOM's own hash binds the file.
            named = replace(named, sha256=sha, sha256_from_sbom=True)
            selected[named.filename] = named
            bound.add(named.filename)
            continue
        found = by_sha.get(sha) if sha else named
        if found is not None:
            selected[found.filename] = found
            if sha:
                bound.add(found.filename)
            continue
        if filename is None and sha and all(f.sha256 for f in release):
            # A component-level hash that no file of the release has: not these files.
            missing.append(
                FetchedFile(
                    filename=f"sha256:{sha}",
                    sha256=sha,
                    state=FetchState.CONFLICT,
                    reason=f"the SBOM's sha256 {sha} matches no file of this release on the index",
                )
            )
            continue
        missing.append(
            FetchedFile(
                filename=filename or f"sha256:{sha}",
                sha256=sha,
                state=FetchState.UNKNOWN,
                reason="the SBOM names a file this release does not have on the index",
            )
        )
    done = {m.filename for m in missing}
    return [f for f in selected.values() if f.filename not in done], missing, bound


def _bind_download(
    fetched: FetchedFile, page_file: _PageFile, received: str | None, problem: str
) -> FetchedFile:
    """Bind a file to the sha256 of the bytes received (``--hash-files``)."""
    if received is None:
        return replace(fetched, state=FetchState.UNKNOWN, reason=problem, provenance=None)
    expected = page_file.sha256
    if expected is not None and received != expected:
        if page_file.sha256_from_sbom:
            what = f"the SBOM records: the SBOM's sha256 {expected}"
        else:
            what = f"it advertises: advertised sha256 {expected}"
        return replace(
            fetched,
            state=FetchState.CONFLICT,
            reason=f"the index serves other bytes than {what}, received {received}",
            provenance=None,
        )
    return replace(fetched, sha256=received, downloaded=True)


Follow = Callable[[ReleaseFetch], Sequence[ReleaseRequest]]
"""Given a fetched release, the further releases to fetch (e.g. earlier versions)."""


async def _fetch_all(
    requests: Sequence[ReleaseRequest],
    options: IndexOptions,
    observer: Observer | None,
    follow: Follow | None = None,
) -> tuple[dict[ReleaseRequest, ReleaseFetch], dict[str, list[_PageFile]]]:
    client = _Client(options, observer)
    results: dict[ReleaseRequest, ReleaseFetch] = {}
    started: set[ReleaseRequest] = set()

    async def one(request: ReleaseRequest) -> None:
        fetch = await client.release(request)
        results[request] = fetch
        if follow is not None:
            more = [r for r in follow(fetch) if r not in started]
            started.update(more)
            await asyncio.gather(*(one(r) for r in more))

    try:
        unique = list(dict.fromkeys(requests))
        started.update(unique)
        # What the store answers whole first (and what those releases lead to); the rest
        # is fetched below.
        from bomguard.index._stored import answer_from_store

        pending: collections.deque[ReleaseRequest] = collections.deque()
        batch = unique
        while batch:
            answered = answer_from_store(client, batch)
            pending.extend(r for r in batch if r not in answered)
            batch = []
            for request, fetch in answered.items():
                results[request] = fetch
                if follow is not None:
                    more = [r for r in follow(fetch) if r not in started]
                    started.update(more)
                    batch.extend(more)

        # A bounded number of workers, not one task per release: 100,000 releases as
        # tasks at once held every coroutine, request and failure in memory together.
        async def drain() -> None:
            while pending:
                await one(pending.popleft())

        workers = min(len(pending), 4 * max(1, options.concurrency))
        await asyncio.gather(*(drain() for _ in range(workers)))
        pages = {
            project: task.result()
            for (_, project), task in client.pages.items()
            if task.done() and task.exception() is None
        }
        return results, pages
    finally:
        await client.aclose()


def fetch_releases(
    requests: Sequence[ReleaseRequest],
    options: IndexOptions | None = None,
    observer: Observer | None = None,
    follow: Follow | None = None,
) -> dict[ReleaseRequest, ReleaseFetch]:
    """Fetch every requested release's files and provenance (equal requests once).

    ``follow`` names further releases to fetch once a release is in (one page fetch per
    project still); their results are in the returned mapping too.
    """
    return asyncio.run(_fetch_all(requests, options or IndexOptions(), observer, follow))[0]


def _page_json(project: str, files: list[_PageFile]) -> bytes:
    entries = []
    for f in files:
        entry: dict[str, Any] = {
            "filename": f.filename,
            "url": redact_url(f.url),
            # An unusable digest stays unusable in the mirror (not "no digest").
            "hashes": {"sha256": f.sha256 or ""} if f.sha256 or f.sha256_problem else {},
        }
        if f.provenance is not _MISSING:
            entry["provenance"] = None if f.provenance is None else redact_url(str(f.provenance))
        entries.append(entry)
    doc = {"meta": {"api-version": "1.1"}, "name": project, "files": entries}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")


def fetch_mirror(
    requests: Sequence[ReleaseRequest],
    root: Path,
    options: IndexOptions | None = None,
    observer: Observer | None = None,
    follow: Follow | None = None,
) -> dict[ReleaseRequest, ReleaseFetch]:
    """Fetch like :func:`fetch_releases` and write everything into a mirror at ``root``."""
    from bomguard.index.mirror import write_mirror

    options = options or IndexOptions()
    results, pages = asyncio.run(_fetch_all(requests, options, observer, follow))
    provenance = {
        f.filename: f.provenance
        for fetch in results.values()
        for f in fetch.files
        if f.state is FetchState.PRESENT and f.provenance is not None
    }
    write_mirror(
        root,
        redact_url(options.index_url),
        {project: _page_json(project, files) for project, files in pages.items()},
        provenance,
    )
    return results
