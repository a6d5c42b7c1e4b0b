"""The index client's HTTP/1.1 transport against servers framing bodies every way HTTP/1.1
allows (the test index always sends Content-Length; real indexes and proxies do not)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bomguard.index._transport import PoolTransport

BODY = b'{"files": []}' * 5000  # ~65 KB: more than one read


def _no_tls():  # pragma: no cover - these servers are plain HTTP
    raise AssertionError("no TLS here")


async def _serve(answer: bytes, seen: list[int]) -> tuple[asyncio.Server, str]:
    """A server answering every request on a connection with ``answer``; ``seen`` gets
    one entry per connection accepted."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower() or answer.startswith(b"HTTP/1.0"):
                    break  # the body ends where the connection does
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/simple/x/"


def _chunked(body: bytes) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + 7000]), body[i : i + 7000])
        for i in range(0, len(body), 7000)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


ANSWERS = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY,
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(BODY),
    "until-close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY,
    "http/1.0": b"HTTP/1.0 200 OK\r\n\r\n" + BODY,
    "informational first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY,
}


@pytest.mark.parametrize("framing", sorted(ANSWERS))
def test_every_body_framing_arrives_whole(framing):
    async def run() -> tuple[list[bytes], int]:
        seen: list[int] = []
        server, url = await _serve(ANSWERS[framing], seen)
        async with server, httpx.AsyncClient(transport=PoolTransport(_no_tls, 2)) as client:
            bodies = []
            for _ in range(3):
                response = await client.get(url)
                assert response.status_code == 200
                bodies.append(response.content)
        return bodies, len(seen)

    bodies, connections = asyncio.run(run())
    assert bodies == [BODY] * 3
    # A connection is reused only when the server keeps it open after a framed body.
    keeps_alive = framing in ("content-length", "chunked", "informational first")
    assert connections == (1 if keeps_alive else 3)


def test_a_truncated_body_is_an_error_not_a_short_body():
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
        + BODY[:1000]
    )

    async def run() -> None:
        server, url = await _serve(answer, [])
        async with server, httpx.AsyncClient(transport=PoolTransport(_no_tls, 2)) as client:
            await client.get(url)

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(run())
