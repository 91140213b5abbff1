"""KeptStream: the handed-over stream of a switched connection releases the driver, cycle-free."""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any

from pyrama_core import Extensions
from pyrama_http_core._h1_upgrade import KeptStream


class _Inner:
    """A stream double with abort() and detach_socket()."""

    def __init__(self) -> None:
        self.extensions = Extensions()
        self.aborted = False

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        return b""

    def write(self, data: bytes, /) -> None:
        pass

    async def drain(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    async def close(self) -> None:
        pass

    def abort(self) -> None:
        self.aborted = True

    async def detach_socket(self) -> tuple[socket.socket, bytes] | None:
        a, b = socket.socketpair()
        b.close()
        return a, b"left"


async def test_abort_and_detach_release_the_connection() -> None:
    loop = asyncio.get_running_loop()
    inner = _Inner()
    released: asyncio.Future[None] = loop.create_future()
    kept = KeptStream(inner, released)  # type: ignore[arg-type]
    assert kept.abort is not None
    kept.abort()
    assert inner.aborted
    assert released.done()

    released2: asyncio.Future[None] = loop.create_future()
    kept2 = KeptStream(_Inner(), released2)  # type: ignore[arg-type]
    assert kept2.detach_socket is not None
    got: Any = await kept2.detach_socket()
    assert got[1] == b"left"
    got[0].close()
    assert released2.done()


async def test_a_kept_stream_leaves_no_reference_cycle() -> None:
    loop = asyncio.get_running_loop()
    inners = [_Inner() for _ in range(50)]
    futures = [loop.create_future() for _ in range(50)]
    gc.collect()
    gc.disable()
    try:
        for inner, fut in zip(inners, futures, strict=True):
            kept = KeptStream(inner, fut)  # type: ignore[arg-type]
            del kept
        # freed by reference counting: nothing for the cyclic collector (it walked ~14 objects
        # per tunnel when the stream kept bound methods of itself)
        assert gc.collect() == 0
    finally:
        gc.enable()


async def test_socket_stream_is_the_wrapped_ones_or_absent() -> None:
    from pyrama_net import SocketStream, open_socket_stream

    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    with b:
        inner = await open_socket_stream(a)
        kept = KeptStream(inner, loop.create_future())
        assert isinstance(kept.socket_stream, SocketStream)
        assert kept.socket_stream is inner
        await kept.close()
    plain = KeptStream(_Inner(), loop.create_future())  # type: ignore[arg-type]
    assert getattr(plain, "socket_stream", None) is None
