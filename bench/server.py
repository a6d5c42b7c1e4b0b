"""The loopback index (tests/indexserver.py) in a process of its own.

The server's threads then do not share a GIL with the harness, and bomguard runs as a
separate process anyway, so what is measured is bomguard alone (the server still shares
the machine's cores, as any local server would). The harness talks to it over a pipe:
``counts`` (requests since the last ``reset``, and the server's own CPU seconds),
``reset``, ``latency <seconds>``, ``stop``.

Like PyPI, the index marks project pages and provenance objects fresh for ten minutes
(``Cache-Control: max-age=600, public``: warehouse's ``cache_control(10 * 60)`` on its
simple and Integrity API views), so a warm run right after a cold one asks nothing, as it
would of PyPI. ``cache_control=None`` sends no ``Cache-Control`` at all (every page is
then revalidated on every run: the revalidation figure).
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import resource
from pathlib import Path
from typing import Any

from _paths import setup_path

setup_path()

PYPI_CACHE_CONTROL = "max-age=600, public"
"""What PyPI sends on Simple API pages and Integrity API provenance (warehouse
``warehouse/api/simple.py`` and ``warehouse/api/integrity.py``: ``cache_control(10 * 60)``)."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _serve(
    conn: multiprocessing.connection.Connection,
    data: Path,
    seed: int,
    size: int,
    n: int,
    latency: float,
    cache_control: str | None,
) -> None:
    import indexserver
    from dataset import Dataset
    from indexserver import IndexServer

    # socketserver's default listen backlog is 5: with more connections opening at once
    # the kernel drops SYNs and the client waits a second to retry, which no real index
    # (a CDN) would make it do. Only the backlog changes; the server is the test suite's.
    indexserver._HTTPServer.request_queue_size = 1024
    if cache_control is not None:
        _send_cache_control(indexserver, cache_control)
    dataset = Dataset(data, seed, size)
    server = IndexServer().start()
    files = 0
    for record in dataset.components(n):
        for release in record["releases"]:
            for f in release["files"]:
                server.add_file(
                    record["name"],
                    f["filename"],
                    sha256=f["sha256"],
                    provenance=f["provenance"].encode(),
                    version=release["version"],
                )
                files += 1
    server.latency = latency
    conn.send({"index_url": server.index_url, "files": files})
    try:
        while True:
            command, *args = conn.recv()
            if command == "counts":
                requests = server.requests
                conn.send(
                    {
                        "total": len(requests),
                        "pages": sum(1 for r in requests if r.path.startswith("/simple/")),
                        "pages_conditional": sum(
                            1
                            for r in requests
                            if r.path.startswith("/simple/") and "if-none-match" in r.headers
                        ),
                        "provenance": sum(1 for r in requests if r.path.startswith("/integrity/")),
                        "errors": len(server.errors),
                        "server_cpu_s": _cpu(),
                    }
                )
            elif command == "reset":
                server.reset_log()
                conn.send(_cpu())
            elif command == "latency":
                server.latency = float(args[0])
                conn.send(True)
            elif command == "stop":
                break
    finally:
        server.close()
        conn.send("stopped")


def _send_cache_control(indexserver: Any, value: str) -> None:
    """Make the test suite's server send ``Cache-Control: value`` with every project page
    and provenance object (200s and 304s alike, as PyPI's CDN does); nothing else changes."""
    conditional = indexserver._conditional

    def with_cache_control(response: Any, path: str, if_none_match: str | None) -> Any:
        response = conditional(response, path, if_none_match)
        if response.status in (200, 304) and path.startswith(("/simple/", "/integrity/")):
            response.headers["Cache-Control"] = value
        return response

    indexserver._conditional = with_cache_control


class ServerProcess:
    """``with ServerProcess(dataset, n, latency) as index: index.url, index.counts()``.

    ``cache_control``: the ``Cache-Control`` of pages and provenance (default: PyPI's;
    ``None``: none, so that every warm run revalidates every page).
    """

    def __init__(
        self,
        dataset: Any,
        n: int,
        latency: float,
        cache_control: str | None = PYPI_CACHE_CONTROL,
    ) -> None:
        ctx = mp.get_context("spawn")  # a clean interpreter: nothing inherited from the harness
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve,
            args=(child, dataset.folder, dataset.seed, dataset.size, n, latency, cache_control),
            name="bench-index",
            daemon=True,
        )
        self._process.start()
        child.close()
        ready = self._conn.recv()
        self.url: str = ready["index_url"]
        self.files: int = ready["files"]

    def _ask(self, *command: Any) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = self._ask("counts")
        return result

    def reset(self) -> float:
        """Forget the request log; returns the server's CPU seconds so far."""
        cpu: float = self._ask("reset")
        return cpu

    def set_latency(self, seconds: float) -> None:
        self._ask("latency", seconds)

    def close(self) -> None:
        if self._process.is_alive():
            self._ask("stop")
            self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
