"""Store reads of the fetch path, coalesced: one worker-thread hop per batch, not per entry.

A warm run reads every project page and every provenance object from the store. One
``asyncio.to_thread`` hop and one SQLite query per entry cost more than the reads
themselves (thread wake-ups, GIL hand-overs). Here the lookups that tasks ask for in the
same turn of the event loop are answered together: one hop, one
:meth:`bomguard.index.cache.StoreCache.get_pages` / ``get_provenances`` call (a few
``IN`` queries), with exactly the checks of a single read: every row's MAC, its body's
sha256 and its key parts, tampered rows dropped and reported.

At most one batch per kind is read at a time; lookups asked for meanwhile wait for the
next one, so batches grow with the concurrency and never hold more than the entries the
waiting tasks asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from bomguard.index.cache import CachedPage, StoreCache

__all__ = ["BatchedReads"]

K = TypeVar("K")
V = TypeVar("V")


class _Batcher(Generic[K, V]):
    def __init__(self, read: Callable[[Sequence[K]], list[V]]) -> None:
        self._read = read
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._busy = False
        self._task: asyncio.Future[None] | None = None

    async def get(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        self._waiting.append((key, future))
        if not self._busy:
            self._busy = True
            # After the tasks already runnable this turn: they join the same batch.
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        batch, self._waiting = self._waiting, []
        self._task = asyncio.ensure_future(self._run(batch))  # referenced while it runs

    async def _run(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        try:
            found = await asyncio.to_thread(self._read, [key for key, _ in batch])
        except BaseException as err:  # every waiter sees the failure, none hangs
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
        else:
            for (_, future), value in zip(batch, found, strict=True):
                if not future.done():
                    future.set_result(value)
        finally:
            if self._waiting:
                self._start()
            else:
                self._busy = False


class BatchedReads:
    """``await reads.page(url)`` / ``await reads.provenance(origin, filename, sha256)``."""

    def __init__(self, cache: StoreCache) -> None:
        self._pages: _Batcher[str, CachedPage | None] = _Batcher(cache.get_pages)
        self._provenance: _Batcher[tuple[str, str, str], bytes | None] = _Batcher(
            cache.get_provenances
        )

    async def page(self, url: str) -> CachedPage | None:
        return await self._pages.get(url)

    async def provenance(self, origin: str, filename: str, sha256: str) -> bytes | None:
        return await self._provenance.get((origin, filename, sha256))
