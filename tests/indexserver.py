"""A real PEP 503/691/700/740 package index on loopback, for the test suite.

The server speaks plain HTTP/1.1 on ``127.0.0.1`` (an ephemeral port) from a background
thread, so the code under test uses its ordinary ``httpx`` client against it: nothing is
mocked. URL layout (``BASE`` is ``http://127.0.0.1:PORT``)::

    GET BASE/simple/                                              project list (PEP 691 JSON / HTML)
    GET BASE/simple/<project>/                                    project page (PEP 691 JSON / HTML)
    GET BASE/files/<filename>                                     distribution bytes
    GET BASE/integrity/<project>/<version>/<filename>/provenance  PEP 740 provenance object

A non-normalised project name, or a project URL without the trailing slash, is answered
with a 301 to the canonical URL, as PyPI does. Unknown projects and files are 404.

Faults (status codes, ``Retry-After``, slow answers, truncated bodies, connection resets)
are queued per path prefix with :meth:`IndexServer.fault`; every request is logged in
:attr:`IndexServer.requests`.

:func:`load_real_fixtures` / :func:`add_fixture` / :func:`add_dist` serve the real
provenance fixtures from ``tests/data/provenance`` (see ``tests/data/README.md``).
"""

from __future__ import annotations

import contextlib
import csv
import enum
import hashlib
import html
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NamedTuple, Self
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

__all__ = [
    "DEFAULT",
    "MISSING",
    "PEP691_JSON",
    "PEP740_JSON",
    "Fault",
    "IndexFile",
    "IndexServer",
    "LoggedRequest",
    "ManifestEntry",
    "RegisteredFile",
    "add_dist",
    "add_fixture",
    "default_fixtures",
    "load_real_fixtures",
    "make_provenance",
    "parse_dist_filename",
    "read_manifest",
    "read_publishers",
]

PEP691_JSON: Final = "application/vnd.pypi.simple.v1+json"
PEP691_HTML: Final = "application/vnd.pypi.simple.v1+html"
PEP740_JSON: Final = "application/vnd.pypi.integrity.v1+json"
API_VERSION: Final = "1.1"


class _Sentinel(enum.Enum):
    MISSING = "MISSING"
    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return self.value


MISSING: Final = _Sentinel.MISSING
"""``add_file(provenance=MISSING)``: no provenance given (served like ``None``)."""

DEFAULT: Final = _Sentinel.DEFAULT
"""``add_fixture(wrap_publisher=DEFAULT)``: take the publisher from the fixture/table."""


def parse_dist_filename(filename: str) -> tuple[str, str]:
    """(normalised project name, version) of a wheel or sdist filename."""
    if filename.endswith(".whl"):
        name, version, _build, _tags = parse_wheel_filename(filename)
    else:
        name, version = parse_sdist_filename(filename)
    return str(name), str(version)


@dataclass
class IndexFile:
    """One distribution file as the index serves it."""

    project: str
    """PEP 503-normalised project name."""
    filename: str
    version: str
    sha256: str
    content: bytes | None
    provenance: bytes | None
    provenance_key: bool
    provenance_url: str | None
    """What the ``provenance`` key advertises (``None`` → JSON ``null``)."""
    file_url: str
    extra: dict[str, Any] = field(default_factory=dict)


class LoggedRequest(NamedTuple):
    method: str
    path: str
    """Request target as sent (path and query string, still percent-encoded)."""
    headers: dict[str, str]
    """Header names lower-cased."""


@dataclass
class Fault:
    """A queued misbehaviour for requests whose path starts with ``path``."""

    path: str
    status: int | None = None
    times: int | None = None
    delay: float = 0.0
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False
    reset: bool = False
    hits: int = 0
    """How many requests this fault has affected so far."""

    @property
    def active(self) -> bool:
        return self.times is None or self.hits < self.times

    @property
    def replaces_response(self) -> bool:
        return self.status is not None or self.body is not None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _conditional(response: _Response, path: str, if_none_match: str | None) -> _Response:
    """Project pages carry a strong ETag; a matching If-None-Match gets a 304."""
    if response.status != HTTPStatus.OK or not urlsplit(path).path.startswith("/simple/"):
        return response
    etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    response.headers["ETag"] = etag
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return _Response(HTTPStatus.NOT_MODIFIED, b"", {"ETag": etag})
    return response


class _Abort(Exception):
    """Drop the connection without answering (the server is closing, or a reset fault)."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # IndexServer.close() joins the handler threads itself

    def __init__(self, owner: IndexServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        if self.owner.tls is not None:
            # The handshake happens in the connection's own thread (_Handler.setup).
            sock = self.owner.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"indexserver-conn-{client_address[1]}",
            daemon=True,
        )
        self.owner._track_connection(request, thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        if self.owner._untrack_connection(request):
            request.close()  # SO_LINGER 0 was set: the peer gets a TCP RST
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | _Abort | ssl.SSLError):
            return  # the client went away (or refused our certificate), or a fault/close
        self.owner._record_error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client pools connections
    server_version = "bomguard-test-index/1"
    timeout = 30  # idle keep-alive connections
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between headers and body

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is IndexServer.requests

    def _serve(self, *, head: bool) -> None:
        owner = self.server.owner
        owner._log(LoggedRequest(self.command, self.path, _lower_headers(self.headers)))
        try:
            owner._wait(owner.latency)
            fault = owner._take_fault(urlsplit(self.path).path)
            if fault is not None:
                owner._wait(fault.delay)
                if fault.reset:
                    raise _Abort
            response = self._fault_response(fault) if fault and fault.replaces_response else None
            if response is None:
                response = owner._route(self.path, self.headers.get("Accept"))
                response = _conditional(response, self.path, self.headers.get("If-None-Match"))
            if fault is not None:
                response.headers.update(fault.headers)
            self._send(response, head=head, truncate=fault is not None and fault.truncate)
        except _Abort:
            self.close_connection = True
            owner._mark_aborted(self.connection)

    @staticmethod
    def _fault_response(fault: Fault) -> _Response:
        status = fault.status if fault.status is not None else HTTPStatus.OK
        if fault.body is not None:
            body = fault.body
        else:
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
            body = f"{status} {phrase} (injected fault)\n".encode()
        return _Response(status, body, {"Content-Type": "text/plain; charset=utf-8"})

    def _send(self, response: _Response, *, head: bool, truncate: bool) -> None:
        self.send_response(response.status)
        headers = {"Content-Length": str(len(response.body)), **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        if truncate:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.wfile.write(response.body)


def _lower_headers(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class IndexServer:
    """A PEP 503/691/740 index over real HTTP on 127.0.0.1.

    Use as a context manager (``with IndexServer() as server: ...``) or call
    :meth:`start` / :meth:`close`. All methods are thread-safe.

    ``relative_urls=True`` makes the project page link files with ``../../files/<filename>``
    instead of absolute URLs (the provenance URL is always absolute). ``tls`` (a server
    :class:`ssl.SSLContext`) serves HTTPS instead of HTTP.
    """

    def __init__(self, *, relative_urls: bool = False, tls: ssl.SSLContext | None = None) -> None:
        self.relative_urls = relative_urls
        self.tls = tls
        self.latency: float = 0.0
        """Seconds added to every request."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._projects: dict[str, dict[str, IndexFile]] = {}
        self._faults: list[Fault] = []
        self._requests: list[LoggedRequest] = []
        self._errors: list[str] = []
        self._connections: dict[Any, threading.Thread] = {}
        self._aborted: set[Any] = set()
        self._threads: list[threading.Thread] = []
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("IndexServer already started")
        self._httpd = _HTTPServer(self)
        self._serve_thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"indexserver-{self.port}",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def close(self) -> None:
        """Stop serving, drop open connections and join every thread the server started."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        if self._serve_thread is not None:
            self._serve_thread.join()
        with self._lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes handlers blocked on keep-alive reads
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)
        httpd.server_close()
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"IndexServer handler threads did not stop: {alive}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("IndexServer is not running")
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls``; no trailing slash)."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def index_url(self) -> str:
        """``http://127.0.0.1:PORT/simple/``."""
        return f"{self.base_url}/simple/"

    def url(self, path: str) -> str:
        return self.base_url + path

    def project_url(self, project: str) -> str:
        return f"{self.index_url}{canonicalize_name(project)}/"

    def file_url(self, filename: str) -> str:
        return f"{self.base_url}/files/{quote(filename)}"

    def provenance_url(self, project: str, version: str, filename: str) -> str:
        return (
            f"{self.base_url}/integrity/{canonicalize_name(project)}/"
            f"{quote(version)}/{quote(filename)}/provenance"
        )

    # -- content ---------------------------------------------------------------------------

    def add_project(self, project: str) -> None:
        """Make ``project`` exist with no files (an empty page rather than a 404)."""
        with self._lock:
            self._projects.setdefault(canonicalize_name(project), {})

    def add_file(
        self,
        project: str,
        filename: str,
        *,
        content: bytes | None = None,
        sha256: str | None = None,
        provenance: bytes | _Sentinel | None = MISSING,
        provenance_key: bool = True,
        provenance_url: str | None = None,
        version: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> IndexFile:
        """Register (or replace) a distribution file of ``project``.

        - ``sha256`` defaults to the digest of ``content``; give both to serve a wrong hash.
        - ``provenance``: bytes → the page's ``provenance`` key is the Integrity API URL and
          that URL serves the bytes; ``None`` or ``MISSING`` → ``"provenance": null``.
        - ``provenance_key=False`` → no ``provenance`` key at all (an index without PEP 740);
          the Integrity URL still serves bytes if given.
        - ``provenance_url`` overrides the advertised URL (e.g. a dangling one).
        - ``version`` defaults to the one parsed from ``filename``.
        - ``extra`` is merged into the PEP 691 file object (``requires-python``,
          ``yanked``, ``core-metadata``, ``upload-time``, ...).
        """
        name = canonicalize_name(project)
        if version is None:
            version = parse_dist_filename(filename)[1]
        if sha256 is None:
            if content is None:
                raise ValueError("add_file needs content or sha256")
            sha256 = hashlib.sha256(content).hexdigest()
        prov = None if isinstance(provenance, _Sentinel) else provenance
        if provenance_url is None and prov is not None:
            provenance_url = self.provenance_url(name, version, filename)
        entry = IndexFile(
            project=name,
            filename=filename,
            version=version,
            sha256=sha256,
            content=content,
            provenance=prov,
            provenance_key=provenance_key,
            provenance_url=provenance_url,
            file_url=self.file_url(filename),
            extra=dict(extra or {}),
        )
        with self._lock:
            self._projects.setdefault(name, {})[filename] = entry
        return entry

    def files(self, project: str | None = None) -> list[IndexFile]:
        with self._lock:
            if project is not None:
                return list(self._projects.get(canonicalize_name(project), {}).values())
            return [f for files in self._projects.values() for f in files.values()]

    # -- faults ----------------------------------------------------------------------------

    def fault(
        self,
        path_prefix: str,
        *,
        status: int | None = None,
        times: int | None = None,
        delay: float = 0.0,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        truncate: bool = False,
        reset: bool = False,
    ) -> Fault:
        """Queue a fault for requests whose path starts with ``path_prefix``.

        ``path_prefix`` is a path (``/simple/foo/``) or a full URL on this server. Each
        matching request consumes one hit of the first still-active fault (registration
        order), so ``fault(p, status=500, times=1); fault(p, status=429, times=1)`` answers
        500, then 429, then normally. ``times=None`` never runs out.

        - ``status``/``body``: answer with these instead of the real response (``body``
          alone means status 200 with that body).
        - ``headers``: added to whatever is answered (e.g. ``{"Retry-After": "1"}``).
        - ``delay``: sleep this long before answering.
        - ``truncate``: declare the full Content-Length, send half the body, close.
        - ``reset``: close the connection with a TCP RST, without any response.
        """
        if path_prefix.startswith(("http://", "https://")):
            path_prefix = urlsplit(path_prefix).path
        new = Fault(
            path=path_prefix,
            status=status,
            times=times,
            delay=delay,
            body=body,
            headers=dict(headers or {}),
            truncate=truncate,
            reset=reset,
        )
        with self._lock:
            self._faults.append(new)
        return new

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of every request received, in order."""
        with self._lock:
            return list(self._requests)

    def count(self, path_prefix: str = "/", method: str | None = None) -> int:
        """How many requests had a path starting with ``path_prefix``."""
        if path_prefix.startswith(("http://", "https://")):
            path_prefix = urlsplit(path_prefix).path
        return sum(
            1
            for r in self.requests
            if r.path.startswith(path_prefix) and (method is None or r.method == method)
        )

    def reset_log(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected exceptions in request handlers (should stay empty)."""
        with self._lock:
            return list(self._errors)

    # -- internals used by the handler -----------------------------------------------------

    def _log(self, request: LoggedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)
        print(text, file=sys.stderr)

    def _wait(self, seconds: float) -> None:
        if self._stopping.is_set() or (seconds > 0 and self._stopping.wait(seconds)):
            raise _Abort

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for candidate in self._faults:
                if candidate.active and path.startswith(candidate.path):
                    candidate.hits += 1
                    return candidate
        return None

    def _track_connection(self, sock: Any, thread: threading.Thread) -> None:
        with self._lock:
            self._connections[sock] = thread
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def _untrack_connection(self, sock: Any) -> bool:
        """Forget a finished connection; True if it must be dropped with a reset."""
        with self._lock:
            self._connections.pop(sock, None)
            aborted = sock in self._aborted
            self._aborted.discard(sock)
            return aborted

    def _mark_aborted(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._lock:
            self._aborted.add(sock)

    # -- routing ---------------------------------------------------------------------------

    def _route(self, target: str, accept: str | None) -> _Response:
        path = urlsplit(target).path
        parts = [unquote(p) for p in path.split("/")]
        match parts:
            case ["", "simple", ""]:
                return self._negotiate(accept, self._root_json, self._root_html)
            case ["", "simple", project, ""] if project:
                canonical = canonicalize_name(project)
                if canonical != project:
                    return _redirect(self.project_url(canonical))
                return self._project_page(canonical, accept)
            case ["", "simple"]:
                return _redirect(self.index_url)
            case ["", "simple", project] if project:
                return _redirect(self.project_url(project))
            case ["", "files", filename] if filename:
                return self._file(filename)
            case ["", "integrity", project, version, filename, "provenance"]:
                return self._provenance(project, version, filename)
        return _text(HTTPStatus.NOT_FOUND, "Not Found")

    def _project_page(self, project: str, accept: str | None) -> _Response:
        with self._lock:
            if project not in self._projects:
                return _text(HTTPStatus.NOT_FOUND, "Not Found")
            files = list(self._projects[project].values())
        return self._negotiate(
            accept,
            lambda: self._project_json(project, files),
            lambda: self._project_html(project, files),
        )

    def _negotiate(
        self, accept: str | None, as_json: Callable[[], bytes], as_html: Callable[[], bytes]
    ) -> _Response:
        choice = _choose_representation(accept)
        if choice is None:
            return _text(HTTPStatus.NOT_ACCEPTABLE, "Not Acceptable")
        body = as_json() if choice == PEP691_JSON else as_html()
        return _Response(
            HTTPStatus.OK, body, {"Content-Type": _content_type(choice), "Vary": "Accept"}
        )

    def _root_json(self) -> bytes:
        with self._lock:
            names = sorted(self._projects)
        doc = {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in names]}
        return json.dumps(doc).encode()

    def _root_html(self) -> bytes:
        with self._lock:
            names = sorted(self._projects)
        links = "".join(f'<a href="{quote(n)}/">{html.escape(n)}</a>\n' for n in names)
        return _html_page("Simple index", links)

    def _href(self, entry: IndexFile) -> str:
        return f"../../files/{quote(entry.filename)}" if self.relative_urls else entry.file_url

    def _project_json(self, project: str, files: Sequence[IndexFile]) -> bytes:
        doc = {
            "meta": {"api-version": API_VERSION},
            "name": project,
            "versions": _sorted_versions(f.version for f in files),
            "files": [self._file_json(f) for f in sorted(files, key=lambda f: f.filename)],
        }
        return json.dumps(doc).encode()

    def _file_json(self, entry: IndexFile) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "filename": entry.filename,
            "url": self._href(entry),
            "hashes": {"sha256": entry.sha256},
            "yanked": False,
        }
        if entry.content is not None:
            obj["size"] = len(entry.content)
        if entry.provenance_key:
            obj["provenance"] = entry.provenance_url
        obj.update(entry.extra)
        return obj

    def _project_html(self, project: str, files: Sequence[IndexFile]) -> bytes:
        links = []
        for entry in sorted(files, key=lambda f: f.filename):
            attrs = {"href": f"{self._href(entry)}#sha256={entry.sha256}"}
            if entry.provenance_key and entry.provenance_url is not None:
                attrs["data-provenance"] = entry.provenance_url
            if "requires-python" in entry.extra:
                attrs["data-requires-python"] = str(entry.extra["requires-python"])
            yanked = entry.extra.get("yanked", False)
            if yanked:
                attrs["data-yanked"] = yanked if isinstance(yanked, str) else ""
            rendered = " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items())
            links.append(f"<a {rendered}>{html.escape(entry.filename)}</a><br />\n")
        return _html_page(f"Links for {project}", "".join(links), api_version=True)

    def _file(self, filename: str) -> _Response:
        with self._lock:
            found = [
                f.content
                for files in self._projects.values()
                for f in files.values()
                if f.filename == filename and f.content is not None
            ]
        if not found:
            return _text(HTTPStatus.NOT_FOUND, "Not Found")
        return _Response(HTTPStatus.OK, found[0], {"Content-Type": "application/octet-stream"})

    def _provenance(self, project: str, version: str, filename: str) -> _Response:
        with self._lock:
            entry = self._projects.get(canonicalize_name(project), {}).get(filename)
        if entry is None or entry.provenance is None or not _same_version(entry.version, version):
            return _text(HTTPStatus.NOT_FOUND, "Not Found")
        return _Response(HTTPStatus.OK, entry.provenance, {"Content-Type": PEP740_JSON})


def _text(status: int, message: str, **headers: str) -> _Response:
    return _Response(
        status, f"{message}\n".encode(), {"Content-Type": "text/plain; charset=utf-8", **headers}
    )


def _redirect(location: str) -> _Response:
    return _Response(
        HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": location, "Content-Type": "text/plain"}
    )


def _html_page(title: str, body: str, *, api_version: bool = False) -> bytes:
    meta = f'<meta name="pypi:repository-version" content="{API_VERSION}">' if api_version else ""
    return (
        f"<!DOCTYPE html>\n<html><head>{meta}<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    ).encode()


def _sorted_versions(versions: Iterable[str]) -> list[str]:
    def key(v: str) -> tuple[int, Version, str]:
        try:
            return (0, Version(v), v)
        except InvalidVersion:
            return (1, Version("0"), v)

    return sorted(set(versions), key=key)


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


_REPRESENTATIONS: Final = {
    PEP691_JSON: PEP691_JSON,
    "application/vnd.pypi.simple.latest+json": PEP691_JSON,
    PEP691_HTML: PEP691_HTML,
    "application/vnd.pypi.simple.latest+html": PEP691_HTML,
    "text/html": "text/html",
}


def _choose_representation(accept: str | None) -> str | None:
    """PEP 691 content negotiation: the best of JSON, v1 HTML and text/html, or None."""
    if accept is None or not accept.strip():
        return PEP691_JSON
    scores: dict[str, tuple[float, int]] = {}  # representation -> (q, specificity)
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        for offered, representation in _REPRESENTATIONS.items():
            if media == offered:
                specificity = 2
            elif media == "*/*" or (media.endswith("/*") and offered.startswith(media[:-1])):
                specificity = 1 if media != "*/*" else 0
            else:
                continue
            if specificity >= scores.get(representation, (0.0, -1))[1]:
                scores[representation] = (q, specificity)
    ranked = [(q, rep == PEP691_JSON, rep) for rep, (q, _) in scores.items() if q > 0]
    return max(ranked)[2] if ranked else None


def _content_type(representation: str) -> str:
    if representation == "text/html":
        return "text/html; charset=utf-8"
    return representation


# --- real fixtures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestEntry:
    """One row of ``tests/data/provenance/MANIFEST.tsv``."""

    fixture: str
    """Path relative to ``provenance/`` (``staging/...`` for staging fixtures)."""
    shape: str
    """``provenance`` or ``attestation``."""
    trust_root: str
    """``production``, ``staging`` or ``none``."""
    dist_filename: str
    subject_sha256: str
    dist_in_dists: bool
    publisher_kind: str
    """Only set for ``provenance`` fixtures (the index's publisher object)."""
    signer_identity: str
    """The certificate's SAN: a workflow/pipeline URI or an email."""
    source: str


@dataclass(frozen=True)
class RegisteredFile:
    """What :func:`add_fixture` / :func:`load_real_fixtures` put on the index."""

    fixture: str
    project: str
    version: str
    filename: str
    sha256: str
    publisher_kind: str
    publisher: Mapping[str, Any]
    """The (first bundle's) publisher object served in the provenance."""
    signer_identity: str
    trust_root: str
    file_url: str
    provenance_url: str


_PREFERENCE: Final = (".provenance", ".publish.attestation", ".attestation", ".slsa.attestation")


def read_manifest(data_dir: Path) -> dict[str, ManifestEntry]:
    """The provenance MANIFEST, keyed by fixture path (relative to ``provenance/``)."""
    path = data_dir / "provenance" / "MANIFEST.tsv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {
        row["file"]: ManifestEntry(
            fixture=row["file"],
            shape=row["shape"],
            trust_root=row["trust_root"],
            dist_filename=row["dist_filename"],
            subject_sha256=row["subject_sha256"],
            dist_in_dists=row["dist_in_dists"] == "yes",
            publisher_kind=row["publisher_kind"],
            signer_identity=row["signer_identity"],
            source=row["source"],
        )
        for row in rows
    }


def read_publishers(data_dir: Path) -> dict[str, dict[str, Any]]:
    """``tests/data/publishers.json``: attestation fixture → Trusted Publisher object."""
    result: dict[str, dict[str, Any]] = json.loads(
        (data_dir / "publishers.json").read_text(encoding="utf-8")
    )
    return result


def make_provenance(
    attestations: Sequence[Mapping[str, Any]], publisher: Mapping[str, Any]
) -> bytes:
    """A PEP 740 provenance object with one bundle, as the Integrity API serves it."""
    doc = {
        "version": 1,
        "attestation_bundles": [{"publisher": dict(publisher), "attestations": list(attestations)}],
    }
    return json.dumps(doc).encode()


def add_dist(
    server: IndexServer,
    data_dir: Path,
    dist_filename: str,
    **add_file_kwargs: Any,
) -> IndexFile:
    """Serve a real distribution from ``provenance/dists`` (provenance as given, if any)."""
    content = (data_dir / "provenance" / "dists" / dist_filename).read_bytes()
    project, _version = parse_dist_filename(dist_filename)
    return server.add_file(project, dist_filename, content=content, **add_file_kwargs)


def add_fixture(
    server: IndexServer,
    data_dir: Path,
    fixture: str,
    *,
    wrap_publisher: Mapping[str, Any] | _Sentinel = DEFAULT,
    **add_file_kwargs: Any,
) -> RegisteredFile:
    """Serve one real fixture (a MANIFEST ``file``) and its distribution.

    A ``*.provenance`` fixture is served byte for byte. An attestation fixture is wrapped
    in a one-bundle provenance object whose publisher comes from ``publishers.json``
    (``KeyError`` for email identities, which have no Trusted Publisher: pass
    ``wrap_publisher`` then). An explicit ``wrap_publisher`` also replaces the publisher
    of every bundle of a ``*.provenance`` fixture (an index that lies about the publisher).
    The dist's bytes are served when present in ``dists/``; otherwise only its MANIFEST
    sha256 is listed. Further keyword arguments go to :meth:`IndexServer.add_file`.
    """
    entry = read_manifest(data_dir)[fixture]
    raw = (data_dir / "provenance" / fixture).read_bytes()
    if entry.shape == "provenance":
        doc = json.loads(raw)
        if isinstance(wrap_publisher, _Sentinel):
            provenance = raw
        else:
            for bundle in doc["attestation_bundles"]:
                bundle["publisher"] = dict(wrap_publisher)
            provenance = json.dumps(doc).encode()
        publisher: Mapping[str, Any] = doc["attestation_bundles"][0]["publisher"]
    else:
        if isinstance(wrap_publisher, _Sentinel):
            publishers = read_publishers(data_dir)
            if fixture not in publishers:
                raise KeyError(
                    f"{fixture}: no Trusted Publisher in publishers.json "
                    f"(signer {entry.signer_identity!r}); pass wrap_publisher="
                )
            publisher = publishers[fixture]
        else:
            publisher = wrap_publisher
        provenance = make_provenance([json.loads(raw)], publisher)

    dist_path = data_dir / "provenance" / "dists" / entry.dist_filename
    content = dist_path.read_bytes() if entry.dist_in_dists else None
    project, _version = parse_dist_filename(entry.dist_filename)
    kwargs: dict[str, Any] = {"content": content, "provenance": provenance}
    if content is None:
        kwargs["sha256"] = entry.subject_sha256
    kwargs.update(add_file_kwargs)
    served = server.add_file(project, entry.dist_filename, **kwargs)
    return RegisteredFile(
        fixture=fixture,
        project=served.project,
        version=served.version,
        filename=served.filename,
        sha256=served.sha256,
        publisher_kind=str(publisher.get("kind", "")),
        publisher=publisher,
        signer_identity=entry.signer_identity,
        trust_root=entry.trust_root,
        file_url=served.file_url,
        provenance_url=served.provenance_url or "",
    )


def default_fixtures(data_dir: Path) -> dict[str, str]:
    """Dist filename → the fixture :func:`load_real_fixtures` serves for it.

    Candidates: top-level (production) fixtures whose dist is in ``dists/`` and that have a
    Trusted Publisher (``*.provenance``, or an attestation listed in ``publishers.json``).
    Preference: ``.provenance``, ``.publish.attestation``, ``.attestation``,
    ``.slsa.attestation``.
    """
    publishers = read_publishers(data_dir)
    chosen: dict[str, tuple[int, str]] = {}
    for fixture, entry in read_manifest(data_dir).items():
        if "/" in fixture or entry.trust_root != "production" or not entry.dist_in_dists:
            continue
        if entry.shape != "provenance" and fixture not in publishers:
            continue  # email identity: no Trusted Publisher to wrap it with
        rank = next((i for i, suffix in enumerate(_PREFERENCE) if fixture.endswith(suffix)), None)
        if rank is None:
            continue
        best = chosen.get(entry.dist_filename)
        if best is None or rank < best[0]:
            chosen[entry.dist_filename] = (rank, fixture)
    return {dist: fixture for dist, (_rank, fixture) in sorted(chosen.items())}


def load_real_fixtures(server: IndexServer, data_dir: Path) -> dict[str, RegisteredFile]:
    """Serve one verifiable fixture per real dist; returns dist filename → what was served."""
    return {
        dist: add_fixture(server, data_dir, fixture)
        for dist, fixture in default_fixtures(data_dir).items()
    }
