"""Run a command and measure it: wall time, CPU time, peak RSS (largest process and tree).

CPU time and the largest process's peak RSS come from ``wait4()`` on the child (in a
small launcher process, ``_launch.py``, so that the harness's own size is not charged to
it): the
kernel's figures for the child plus every descendant it reaped (bomguard's verification
workers), so nothing is sampled or estimated. The peak RSS of the whole process tree at
once (bomguard plus its workers, which run together) is sampled from ``/proc`` every
20 ms; it can miss a short spike, so it is a lower bound.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
_LAUNCH = Path(__file__).resolve().with_name("_launch.py")


@dataclass
class Measured:
    returncode: int
    wall: float
    """Seconds from spawning the process to reaping it."""
    user: float
    system: float
    max_rss_mib: float
    """Peak RSS of the largest single process (the child or any descendant it reaped)."""
    tree_rss_mib: float
    """Sampled peak of the summed RSS of the child and its live descendants."""
    stderr: str

    @property
    def cpu(self) -> float:
        return self.user + self.system


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out.extend(int(c) for c in (task / "children").read_text().split())
    except (OSError, ValueError):
        pass
    return out


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _tree_rss(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss(current)
        todo.extend(_children(current))
    return total


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Path | None = None,
    sample: bool = True,
) -> Measured:
    """Run ``command`` to completion and measure it (stdout to ``stdout`` or discarded)."""
    out = stdout.open("wb") if stdout is not None else subprocess.DEVNULL
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-stderr-{os.getpid()}.txt"
    peak = 0
    stop = threading.Event()
    try:
        with err_path.open("wb") as err:
            # Through a small launcher: spawned from here, the command's peak RSS would
            # be at least this process's own (bench/_launch.py says why).
            read_end, write_end = os.pipe()
            process = subprocess.Popen(
                [sys.executable, str(_LAUNCH), str(write_end), "--", *command],
                env=dict(env) if env is not None else None,
                cwd=cwd,
                stdout=out,
                stderr=err,
                pass_fds=(write_end,),
            )
            os.close(write_end)

            def sampler() -> None:
                nonlocal peak
                while not stop.wait(0.02):
                    # The launcher's descendants: the command and its workers.
                    peak = max(peak, sum(_tree_rss(c) for c in _children(process.pid)))

            thread = threading.Thread(target=sampler, daemon=True)
            if sample:
                thread.start()
            with os.fdopen(read_end, "rb") as pipe:
                launched = json.loads(pipe.read() or b"{}")
            process.wait()
            stop.set()
            if sample:
                thread.join()
            if not launched:
                raise RuntimeError(f"the launcher failed (exit {process.returncode})")
        stderr = err_path.read_text(errors="replace")
    finally:
        if stdout is not None and not isinstance(out, int):
            out.close()
        err_path.unlink(missing_ok=True)
    return Measured(
        returncode=launched["returncode"],
        wall=launched["wall"],
        user=launched["user"],
        system=launched["system"],
        max_rss_mib=launched["max_rss_kib"] / 1024,  # KiB on Linux
        tree_rss_mib=peak / (1024 * 1024),
        stderr=stderr,
    )


def self_cpu() -> float:
    """CPU seconds this process has used so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
