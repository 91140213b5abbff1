"""Http1ClientConnection(take_arrived_bodies=True): a body that came with its head, in memory."""

from __future__ import annotations

import asyncio

import pytest

from pyrama_http_core import Http1ClientConnection
from pyrama_http_core.errors import ConnectionClosedError
from pyrama_http_types import Method, Request
from pyrama_testing import MockStream

pytestmark = pytest.mark.usefixtures("each_client_codec")
"""Every test runs once per client codec (h11, httptools): see conftest.py."""

OK_HELLO = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def busy(conn: Http1ClientConnection) -> bool:
    return conn.is_busy  # a call: mypy would narrow the property across awaits


def get() -> Request:
    return Request("GET", "http://example.test/")


async def test_a_complete_response_is_in_memory_and_the_connection_idle() -> None:
    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    for _ in range(3):
        stream.feed(OK_HELLO)
        resp = await conn.send_request(get())
        assert not busy(conn)
        assert conn.is_reusable()
        assert resp.body.is_in_memory
        assert resp.body.size_hint == 5
        assert await resp.body.collect() == b"hello"
    assert (
        stream.written == [b"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n"] * 3
    )


async def test_a_complete_chunked_response_keeps_its_trailers() -> None:
    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    stream.feed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nhel\r\n2\r\nlo\r\n0\r\nX-Sum: 5\r\n\r\n"
    )
    resp = await conn.send_request(get())
    assert not busy(conn)
    assert resp.body.is_in_memory
    assert await resp.body.collect() == b"hello"
    trailers = resp.body.trailers
    assert trailers is not None
    assert trailers.get("x-sum") == "5"


async def test_a_body_still_arriving_streams_from_what_came_first() -> None:
    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    stream.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhel")
    resp = await conn.send_request(get())
    assert busy(conn)
    assert not resp.body.is_in_memory
    assert resp.body.size_hint == 11
    chunks = []
    async for chunk in resp.body:
        chunks.append(chunk)
        if len(chunks) == 1:
            stream.feed(b"lo worl")
            await asyncio.sleep(0)
            stream.feed(b"d")
    assert b"".join(chunks) == b"hello world"
    assert chunks[0] == b"hel"
    assert not busy(conn)
    assert conn.is_reusable()


async def test_a_head_alone_streams_the_body() -> None:
    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    stream.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
    resp = await conn.send_request(get())
    assert busy(conn)
    stream.feed(b"hello")
    assert await resp.body.collect() == b"hello"
    assert not busy(conn)


async def test_a_connection_closed_mid_body_fails_when_the_body_is_read() -> None:
    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    stream.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
    stream.feed_eof()
    resp = await conn.send_request(get())
    assert resp.status == 200
    with pytest.raises(ConnectionClosedError):
        await resp.body.collect()
    assert conn.is_closed
    assert not conn.is_reusable()


async def test_without_the_option_the_body_streams_and_the_connection_stays_busy() -> None:
    stream = MockStream()
    conn = Http1ClientConnection(stream)
    stream.feed(OK_HELLO)
    resp = await conn.send_request(get())
    assert busy(conn)
    assert not resp.body.is_in_memory
    assert await resp.body.collect() == b"hello"
    assert not busy(conn)


async def test_connection_close_in_a_complete_response_closes_the_connection() -> None:
    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    stream.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    resp = await conn.send_request(get())
    assert await resp.body.collect() == b"ok"
    assert not busy(conn)
    assert not conn.is_reusable()
    await asyncio.sleep(0)
    assert stream.is_closing()


async def test_status_codes_are_kept_per_int_and_equal_fresh_ones() -> None:
    from pyrama_http_core import _h1_client
    from pyrama_http_types import StatusCode

    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    for code in [200, 299, 299, 599, 200]:
        stream.feed(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % code)
        resp = await conn.send_request(get())
        assert type(resp.status) is StatusCode
        assert resp.status == StatusCode(code)
        assert _h1_client._STATUS_CODES[code] is resp.status
    # keyed by exact ints from the codec, 100..999: at most 900 entries
    assert all(type(k) is int and 100 <= k <= 999 for k in _h1_client._STATUS_CODES)


async def test_method_wire_forms_are_kept_for_methods_only_and_bounded() -> None:
    from pyrama_http_core import _h1_client

    stream = MockStream()
    conn = Http1ClientConnection(stream, take_arrived_bodies=True)
    names = [f"X-M{i}" for i in range(_h1_client._METHOD_BYTES_MAX + 6)]
    for name in [*names, "GET", "GET"]:
        stream.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
        await conn.send_request(Request(name, "http://example.test/"))
        assert stream.written[-1].startswith(name.encode() + b" http://example.test/ ")
        assert len(_h1_client._METHOD_BYTES) <= _h1_client._METHOD_BYTES_MAX
    assert all(type(m) is Method for m in _h1_client._METHOD_BYTES)
