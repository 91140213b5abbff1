"""The pool's idle check asks streams ``at_eof()``: a peer that closed an idle connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from http_support import GUARD

from pyrama_core import Extensions
from pyrama_http import H1Handle, HttpConnectionPool, HttpConnectTarget, WireMode
from pyrama_http_core import Http1ClientConnection
from pyrama_http_types import Request
from pyrama_net import EstablishedConnection, SocketStream
from pyrama_tcp import TcpConnector

_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class Wrapped:
    """A stream wrapper that offers the public ``at_eof()`` but hides its inner stream."""

    def __init__(self, inner: SocketStream) -> None:
        self._inner = inner

    @property
    def extensions(self) -> Extensions:
        return self._inner.extensions

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        return await self._inner.read(max_bytes)

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        self._inner.write(data)

    async def drain(self) -> None:
        await self._inner.drain()

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        self._inner.write_eof()

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    async def close(self) -> None:
        await self._inner.close()

    def buffered(self) -> int:
        return self._inner.buffered()

    def at_eof(self) -> bool:
        return self._inner.at_eof()


async def _until(pred: Callable[[], bool]) -> None:
    """Poll until *pred* holds (a generous hang guard, not a timing assertion)."""
    for _ in range(int(GUARD / 0.005)):
        if pred():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


@contextlib.asynccontextmanager
async def one_response_server() -> AsyncIterator[int]:
    """A keep-alive looking HTTP/1.1 server that closes each connection after one answer."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await r.readuntil(b"\r\n\r\n")
            w.write(_RESPONSE)
            await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_idle_connection_closed_by_the_peer_is_not_reused() -> None:
    streams: list[Wrapped] = []
    tcp = TcpConnector()

    async def connect(
        target: HttpConnectTarget,
    ) -> EstablishedConnection[HttpConnectTarget, Http1ClientConnection]:
        est = await tcp.serve(target)
        assert isinstance(est.conn, SocketStream)
        stream = Wrapped(est.conn)
        streams.append(stream)
        return EstablishedConnection(Http1ClientConnection(stream), target, est.extensions)

    async with one_response_server() as port:
        target = HttpConnectTarget("http", "127.0.0.1", port, WireMode.HTTP1)
        pool = HttpConnectionPool(connect)  # type: ignore[arg-type]
        try:
            for i in range(2):
                handle = await asyncio.wait_for(pool.acquire(target), GUARD)
                assert isinstance(handle, H1Handle)
                assert not handle.reused
                conn = handle.established.conn
                assert isinstance(conn, Http1ClientConnection)
                resp = await conn.send_request(Request("GET", f"http://127.0.0.1:{port}/{i}"))
                assert await resp.body.collect() == b"ok"
                await handle.done(True)
                assert pool.stats().http1.idle == 1  # kept: nothing said it was closed yet
                # the server closes the idle connection; only at_eof() tells (no _proto here)
                await _until(streams[-1].at_eof)
            assert len(streams) == 2
        finally:
            await pool.close()
