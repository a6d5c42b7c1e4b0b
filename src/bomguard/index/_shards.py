"""Several small httpx connection pools behind one ``stream()``: httpx at high concurrency.

httpcore's pool looks at every one of its connections for every request it places
(``_assign_requests_to_connections``), so the CPU a request costs grows with the pool:
measured on 2 cores against a loopback server adding 50 ms per request, 3,000 GETs took
1.1 ms of CPU each through one pool of 16 connections and 8 ms through one pool of 64
(27 s: slower than 16 connections), but 0.7 ms each through 16 pools of 4 connections
(3.2 s). So the client is :data:`SHARD_SIZE`-connection shards, each an ordinary
``httpx.AsyncClient`` built by one factory with the same settings (redirect policy,
auth, TLS, limits), and each request goes to the shard with the fewest requests in
flight. Every rule a client applies applies unchanged, because each shard is one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx

__all__ = ["SHARD_SIZE", "ShardedClient"]

SHARD_SIZE = 4
"""Connections per shard: small enough that a pool's per-request scan stays cheap."""


class ShardedClient:
    """Up to ``ceil(connections / SHARD_SIZE)`` httpx clients, each with its share of the
    connections; a request goes to the open shard with the fewest requests in flight, and
    another shard is opened only when every open one is full (so a run that makes no
    request, from a mirror, builds no client and imports no transport)."""

    def __init__(self, connections: int, factory: Callable[[int], httpx.AsyncClient]) -> None:
        """``factory(n)`` builds one shard allowed ``n`` connections."""
        connections = max(1, connections)
        count = -(-connections // SHARD_SIZE)
        self.sizes = [
            connections // count + (1 if i < connections % count else 0) for i in range(count)
        ]
        self.factory = factory
        self.clients: list[httpx.AsyncClient] = []
        self.in_flight: list[int] = []

    def _pick(self) -> int:
        if self.clients:
            shard = min(range(len(self.clients)), key=self.in_flight.__getitem__)
            if self.in_flight[shard] < self.sizes[shard] or len(self.clients) == len(self.sizes):
                return shard
        self.clients.append(self.factory(self.sizes[len(self.clients)]))
        self.in_flight.append(0)
        return len(self.clients) - 1

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """``httpx.AsyncClient.stream`` on the least busy shard."""
        shard = self._pick()
        self.in_flight[shard] += 1
        try:
            async with self.clients[shard].stream(method, url, headers=headers) as response:
                yield response
        finally:
            self.in_flight[shard] -= 1

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()
