"""Run one command and print its wall time and ``wait4()`` usage as JSON (for measure.py).

A child's peak RSS from ``wait4()`` is at least the RSS peak of the process it was
spawned from: at ``exec`` the kernel carries the old address space's high-water mark
into the new program's ``ru_maxrss``, and ``subprocess`` spawns with ``vfork``, whose
old address space is the parent's. The harness holds the data set and reads each
enriched SBOM it checks (191 MiB at 5,000 components), so a command it spawned directly
was charged the harness's peak (470 MiB "peak" for a warm run that never went above
290 MiB). Spawned from this small process instead, the figure is bomguard's own.

    python _launch.py FD -- command...   (the JSON goes to file descriptor FD)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    command = sys.argv[sys.argv.index("--") + 1 :]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    result = {
        "returncode": os.waitstatus_to_exitcode(status),
        "wall": wall,
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
    }
    os.write(int(sys.argv[1]), json.dumps(result).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
