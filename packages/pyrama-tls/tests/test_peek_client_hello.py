from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

import pytest
from client_hello_support import unique_vector_bytes

from pyrama_core.errors import PyramaTimeoutError
from pyrama_net import BufferedStream, DetachableStream, PeekStream, open_socket_stream
from pyrama_testing import mock_stream_pair
from pyrama_tls import (
    ClientHello,
    ClientHelloExtension,
    encode_client_hello,
    parse_client_hello,
    peek_client_hello,
)
from pyrama_tls.errors import ClientHelloError, ClientHelloTooLargeError


def _hello(sni: str = "peek.example") -> tuple[ClientHello, bytes]:
    ch = ClientHello(
        cipher_suites=(0x1301, 0x1302),
        extensions=(
            ClientHelloExtension.server_name(sni),
            ClientHelloExtension.supported_versions([0x0304]),
            ClientHelloExtension.padding(300),
        ),
    )
    return ch, encode_client_hello(ch, record_size=100)


async def _read_all(s: BufferedStream) -> bytes:
    out = bytearray()
    while chunk := await s.read():
        out += chunk
    return bytes(out)


async def test_peek_returns_the_hello_and_replays_every_byte() -> None:
    ch, wire = _hello()
    x, y = mock_stream_pair()
    for i in range(0, len(wire), 37):  # arrives in pieces
        y.write(wire[i : i + 37])
    y.write(b"\x17\x03\x03\x00\x02hi")
    y.write_eof()
    got, replay = await peek_client_hello(x)
    assert got == ch
    assert isinstance(replay, PeekStream)
    assert replay.extensions.get(ClientHello) == ch
    assert x.extensions.get(ClientHello) == ch
    assert await _read_all(replay) == wire + b"\x17\x03\x03\x00\x02hi"


async def test_peek_over_a_buffered_stream_reuses_it() -> None:
    ch, wire = _hello()
    x, y = mock_stream_pair()
    y.write(wire)
    y.write_eof()
    b = BufferedStream(x, b"")
    got, replay = await peek_client_hello(b)
    assert got == ch
    assert replay is b
    assert await _read_all(replay) == wire


async def test_plain_http_returns_none_after_the_first_byte() -> None:
    x, y = mock_stream_pair()
    y.write(b"G")  # nothing more arrives: the first byte must be enough
    got, replay = await asyncio.wait_for(peek_client_hello(x, timeout=None), 10)
    assert got is None
    y.write(b"ET / HTTP/1.1\r\n\r\n")
    y.write_eof()
    assert await _read_all(replay) == b"GET / HTTP/1.1\r\n\r\n"
    assert x.extensions.get(ClientHello) is None


async def test_immediate_eof_returns_none() -> None:
    x, y = mock_stream_pair()
    y.write_eof()
    got, replay = await peek_client_hello(x)
    assert got is None
    assert await replay.read() == b""


async def test_eof_inside_the_hello_raises() -> None:
    _, wire = _hello()
    x, y = mock_stream_pair()
    y.write(wire[:150])
    y.write_eof()
    with pytest.raises(ClientHelloError, match="ended after 150 byte") as ei:
        await peek_client_hello(x)
    assert ei.value.offset == 150


async def test_malformed_hello_raises() -> None:
    x, y = mock_stream_pair()
    y.write(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00")
    with pytest.raises(ClientHelloError, match="expected 1"):
        await peek_client_hello(x)


async def test_timeout_raises_and_keeps_the_bytes() -> None:
    _, wire = _hello()
    x, y = mock_stream_pair()
    y.write(wire[:50])
    b = BufferedStream(x)
    with pytest.raises(PyramaTimeoutError, match="50 byte") as ei:
        await peek_client_hello(b, timeout=0.05)
    assert ei.value.seconds == 0.05
    assert b.buffered() == 50


async def test_limits_are_passed_on() -> None:
    _, wire = _hello()
    x, y = mock_stream_pair()
    y.write(wire)
    with pytest.raises(ClientHelloTooLargeError):
        await peek_client_hello(x, max_size=100)
    x, y = mock_stream_pair()
    y.write(wire)
    with pytest.raises(ClientHelloTooLargeError, match="records"):
        await peek_client_hello(x, max_records=2)


async def test_read_errors_propagate() -> None:
    class Broken(BufferedStream):
        async def fill(self, max_bytes: int = 65536) -> int:
            raise ConnectionResetError("reset")

    x, _ = mock_stream_pair()
    with pytest.raises(ConnectionResetError):
        await peek_client_hello(Broken(x))


async def test_vectors_through_peek() -> None:
    for raw in unique_vector_bytes()[:20]:
        x, y = mock_stream_pair()
        y.write(raw)
        got, _ = await peek_client_hello(x)
        assert got == parse_client_hello(raw)


async def test_real_ssl_client_over_loopback_and_detach() -> None:
    """A stdlib TLS client's hello is peeked; the socket still detaches with every byte."""
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_server(("127.0.0.1", 0)) as ls:
        port = ls.getsockname()[1]
        ls.setblocking(False)
        loop = asyncio.get_running_loop()
        client = asyncio.ensure_future(
            asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="real.example")
        )
        conn, _ = await loop.sock_accept(ls)
    stream = await open_socket_stream(conn)
    try:
        got, replay = await peek_client_hello(stream)
        assert got is not None
        assert got.server_name == "real.example"
        assert got.alpn == ("h2", "http/1.1")
        assert 0x0304 in got.supported_versions
        assert isinstance(replay, DetachableStream)
        res = await replay.detach_socket()
        assert res is not None
        sock, leftover = res
        with sock:
            assert parse_client_hello(leftover) == got
    finally:
        client.cancel()
        with contextlib.suppress(BaseException):
            await client
        await stream.close()
