"""Leave the process once the command is done, without tearing the interpreter down.

At the end of a run the interpreter would free every object the run made, one by one
(about 0.1 s after a 1,000-component SBOM, most of what is left once the outputs are
written), only for the operating system to take the whole address space back a moment
later. The ``bomguard`` command instead does what Python's own exit does that matters:
it runs the ``atexit`` handlers (the store's last commit, temporary files) and flushes
stdout and stderr, then ends the process with the command's exit code.

Python's normal exit is kept whenever this could lose anything: a thread that is not a
daemon still running (Python would wait for it), a tracer or profiler installed
(coverage, ``cProfile`` write their results after the program ends), an exit code that
is not a number, or stdout or stderr that cannot be flushed (Python reports that).
Library callers are not affected: only the command's entry point ends this way.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

__all__ = ["leave"]


def _quiet_exit_possible() -> bool:
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return False
    main = threading.main_thread()
    return all(t.daemon or t is main or not t.is_alive() for t in threading.enumerate())


def _flushed() -> bool:
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except Exception:  # e.g. a closed pipe: Python's own exit reports it
            return False
    return True


def leave(code: int) -> NoReturn:
    """End the process with ``code`` as described above (or through ``sys.exit``)."""
    if not _quiet_exit_possible() or not _flushed():
        sys.exit(code)
    atexit._run_exitfuncs()
    atexit._clear()  # run once: a fallback to Python's exit below does not run them again
    if not _flushed():
        sys.exit(code)
    os._exit(code)
