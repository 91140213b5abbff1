from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from pyrama_net import (
    BufferedStream,
    DetachableStream,
    PeekStream,
    SocketInfo,
    Stream,
    open_socket_stream,
    peek,
    read_exact,
    rewind,
)
from pyrama_testing import mock_stream_pair


async def _until(condition: Callable[[], bool]) -> None:
    """Poll *condition* (bounded) until it holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")


async def test_peek_replays_then_continues() -> None:
    x, y = mock_stream_pair()
    y.write(b"GET / HTTP/1.1\r\n")
    y.write_eof()
    data, s = await peek(x, 3)
    assert data == b"GET"
    assert isinstance(s, PeekStream)
    assert isinstance(s, Stream)
    assert await read_exact(s, 5) == b"GET /"
    assert await s.read() == b" HTTP/1.1\r\n"
    assert await s.read() == b""


async def test_peek_waits_for_n_bytes_across_reads() -> None:
    x, y = mock_stream_pair()

    async def trickle() -> None:
        for b in (b"\x16", b"\x03", b"\x01rest"):
            await asyncio.sleep(0.01)
            y.write(b)

    task = asyncio.create_task(trickle())
    data, s = await peek(x, 3)
    await task
    assert data == b"\x16\x03\x01"
    assert await s.read() == b"\x16\x03\x01"  # the buffer first, never merged with new reads
    assert await s.read() == b"rest"


async def test_peek_stops_at_eof() -> None:
    x, y = mock_stream_pair()
    y.write(b"ab")
    y.write_eof()
    data, s = await peek(x, 10)
    assert data == b"ab"
    assert await s.read() == b"ab"
    assert await s.read() == b""


async def test_peek_timeout_returns_what_arrived_and_loses_nothing() -> None:
    x, y = mock_stream_pair()
    y.write(b"ab")
    data, s = await peek(x, 10, timeout=0.05)
    assert data == b"ab"
    y.write(b"cd")
    y.write_eof()
    assert await s.read(1) == b"a"
    assert await s.read() == b"b"
    assert await s.read() == b"cd"


async def test_peek_timeout_with_nothing() -> None:
    x, _y = mock_stream_pair()
    data, s = await peek(x, 4, timeout=0.01)
    assert data == b""
    assert s.buffered() == 0


async def test_peek_twice_reuses_the_same_object() -> None:
    x, y = mock_stream_pair()
    y.write(b"0123456789")
    d1, s1 = await peek(x, 2)
    d2, s2 = await peek(s1, 6)
    assert (d1, d2) == (b"01", b"012345")
    assert s2 is s1
    assert await s2.read() == b"012345"
    assert await s2.read() == b"6789"


async def test_peek_argument_check() -> None:
    x, _ = mock_stream_pair()
    with pytest.raises(ValueError, match="negative"):
        await peek(x, -1)


async def test_rewind_object_semantics() -> None:
    x, y = mock_stream_pair()
    y.write(b"world")
    r = rewind(x, b"hello ")
    assert isinstance(r, PeekStream)
    assert r.extensions is x.extensions
    assert rewind(r, b">") is r
    b = BufferedStream(x)
    assert rewind(b, b"") is b
    assert await r.read() == b">hello "
    assert await r.read() == b"world"


async def test_peek_stream_shares_inner_extensions() -> None:
    x, _ = mock_stream_pair()
    s = PeekStream(x, b"pre")
    s.extensions.insert(42)
    assert x.extensions.get(int) == 42


async def test_peek_stream_detach_hands_prefix_back_before_inner_leftover() -> None:
    left, right = socket.socketpair()
    try:
        stream = await open_socket_stream(left)
        right.sendall(b"HELLO world")
        data, s = await peek(stream, 5)
        assert data == b"HELLO"
        assert s.extensions.get(SocketInfo) is not None
        assert await s.read(2) == b"HE"  # part of the prefix is replayed already
        # wait until the rest sits in the socket stream's own buffer
        await _until(lambda: stream.buffered() >= 6)
        assert isinstance(s, DetachableStream)
        res = await s.detach_socket()
        assert res is not None
        sock, leftover = res
        try:
            assert leftover == b"LLO world"
            right.sendall(b"!")
            loop = asyncio.get_running_loop()
            assert await loop.sock_recv(sock, 10) == b"!"
        finally:
            sock.close()
        await s.close()
    finally:
        right.close()
