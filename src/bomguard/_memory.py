"""Give memory the run no longer needs back to the system, and keep the cycle collector
off what the run holds for its whole length.

The provenance objects a large run fetches (124 MiB for 15,000 files at 5,000
components) are bytes objects of a few KiB each, allocated by the C library's ``malloc``
(Python's own allocator takes only objects up to 512 bytes, from arenas of its own).
Once they are verified and spooled (:mod:`bomguard._spool`) they are freed, but glibc
keeps the freed pages in its heap, where Python's small-object arenas never go: the
process's resident size stays as if they were still held, and everything allocated
afterwards (the enriched document, the policy findings, the output) comes on top.
``malloc_trim(0)`` returns those free pages to the system. Elsewhere (musl, macOS) it
is not there and nothing is done.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import sys
from collections.abc import Callable, Iterator

__all__ = ["LongLived", "collector_paused", "give_back"]


@functools.cache
def _trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols: its C library
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def give_back() -> None:
    """Return the C heap's free pages to the system (glibc only; else nothing)."""
    trim = _trim()
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cycle collection inside (for work that makes many objects and no
    cyclic garbage, such as parsing a document); restored after, even on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class LongLived:
    """``with LongLived() as run: ...; run.keep()``: what exists at each ``keep()`` is left
    out of later cycle collections, until the block ends.

    A run builds large structures it holds to its end (the parsed SBOM, the evidence), and
    every full collection after that walks all of them again (four full collections took
    0.13 s of a warm 1,000-component run). ``keep()`` freezes them (``gc.freeze``): they
    are still freed by reference counting, only not searched for cycles. The block ends
    with ``gc.unfreeze()``. When something else in the process already froze objects,
    nothing is done (their state is not ours to change).
    """

    def __init__(self) -> None:
        self._active = False

    def __enter__(self) -> LongLived:
        self._active = gc.get_freeze_count() == 0
        return self

    def keep(self) -> None:
        if self._active:
            gc.freeze()

    def __exit__(self, *exc: object) -> None:
        if self._active:
            gc.unfreeze()
