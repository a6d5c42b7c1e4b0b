"""The loopback index (tests/indexserver.py) in a process of its own.

The server's threads then do not share a GIL with the harness, and bomguard runs as a
separate process anyway, so what is measured is bomguard alone (the server still shares
the machine's cores, as any local server would). The harness talks to it over a pipe:
``counts`` (requests since the last ``reset``, and the server's own CPU seconds),
``reset``, ``latency <seconds>``, ``stop``.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import resource
from pathlib import Path
from typing import Any

from _paths import setup_path

setup_path()


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
) -> None:
    import indexserver
    from dataset import Dataset
    from indexserver import IndexServer

    # socketserver's default listen backlog is 5: with more connections opening at once
    # the kernel drops SYNs and the client waits a second to retry, which no real index
    # (a CDN) would make it do. Only the backlog changes; the server is the test suite's.
    indexserver._HTTPServer.request_queue_size = 1024
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


class ServerProcess:
    """``with ServerProcess(dataset, n, latency) as index: index.url, index.counts()``."""

    def __init__(self, dataset: Any, n: int, latency: float) -> None:
        ctx = mp.get_context("spawn")  # a clean interpreter: nothing inherited from the harness
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve,
            args=(child, dataset.folder, dataset.seed, dataset.size, n, latency),
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
