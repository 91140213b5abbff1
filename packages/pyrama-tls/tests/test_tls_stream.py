"""TlsStream over in-memory streams: handshake, data both ways, EOF, errors, TLS over TLS."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import pytest
from OpenSSL import SSL
from tls_support import client_data, memory_pair_contexts, pki, read_all, server_data

from pyrama_core import Extensions
from pyrama_core.errors import PyramaTimeoutError, Side
from pyrama_net import SocketInfo, Stream, StreamWrapper, bridge
from pyrama_net.errors import StreamError
from pyrama_testing import MockStream, mock_stream_pair
from pyrama_tls import NegotiatedTls, TlsStream, TlsVersion
from pyrama_tls.errors import (
    CertificateVerifyError,
    TlsHandshakeError,
    TlsHandshakeTimeoutError,
    TlsStreamError,
)


@pytest.fixture(autouse=True, params=["cffi", "public"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every test with the cffi data path and with the pyOpenSSL-methods fallback."""
    if request.param == "public":
        import pyrama_tls._tls_stream as mod
        from pyrama_tls._openssl_ext import memory_bio_io

        monkeypatch.setattr(mod, "memory_bio_io", lambda conn: memory_bio_io(conn, fast=False))
    return str(request.param)


def _pair(
    a: Stream,
    b: Stream,
    *,
    server_kw: dict[str, Any] | None = None,
    client_kw: dict[str, Any] | None = None,
    sni: str | None = "localhost",
) -> tuple[TlsStream, TlsStream]:
    sctx, cctx = memory_pair_contexts(
        server_data(**(server_kw or {})), client_data(**(client_kw or {}))
    )
    server = TlsStream(a, SSL.Connection(sctx, None), role="server")
    client = TlsStream(b, SSL.Connection(cctx, None), role="client", server_name=sni)
    return server, client


async def _handshake(server: TlsStream, client: TlsStream) -> tuple[NegotiatedTls, NegotiatedTls]:
    return await asyncio.gather(server.handshake(5), client.handshake(5))


@pytest.mark.parametrize("version", [TlsVersion.TLS1_2, TlsVersion.TLS1_3])
async def test_handshake_and_echo_both_versions(version: TlsVersion) -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b, server_kw={"max_version": version})
    sn, cn = await _handshake(server, client)
    assert sn.version == cn.version == version.value
    assert sn.role == "server"
    assert cn.role == "client"
    assert sn.server_name == "localhost"
    assert cn.server_name == "localhost"
    assert cn.cipher == sn.cipher
    assert cn.cipher is not None
    assert cn.peer_certificate == pki().server.leaf
    assert sn.peer_certificates == ()
    assert server.extensions.get(NegotiatedTls) is sn
    assert client.extensions.get(NegotiatedTls) is cn
    assert await client.handshake() is cn  # idempotent

    client.write(b"hello over tls")
    await client.drain()
    assert await server.read(100) == b"hello over tls"
    server.write(b"and back")
    assert await client.read(100) == b"and back"
    # the ciphertext on the wire is not the plaintext
    assert not any(b"hello over tls" in chunk for chunk in b.written)


async def test_extensions_are_forked_from_the_inner_stream() -> None:
    a, b = mock_stream_pair()
    info = SocketInfo(local=("127.0.0.1", 1), peer=("127.0.0.1", 2), family=2)  # type: ignore[arg-type]
    a.extensions.insert(info)
    server, client = _pair(a, b)
    await _handshake(server, client)
    assert server.extensions.get(SocketInfo) is info
    assert server.extensions.parent is a.extensions
    assert a.extensions.get(NegotiatedTls) is None  # not leaked into the transport's map


async def test_large_transfer_both_directions_keeps_every_byte() -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b)
    await _handshake(server, client)
    payload = os.urandom(3 * 1024 * 1024 + 17)

    async def send() -> None:
        view = memoryview(payload)
        for off in range(0, len(view), 1_000_003):
            client.write(view[off : off + 1_000_003])
            await client.drain()
        client.write_eof()

    async def echo_server() -> None:
        while data := await server.read(1 << 20):
            server.write(data)
            await server.drain()
        server.write_eof()

    _, _, back = await asyncio.gather(send(), echo_server(), read_all(client))
    assert hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()
    assert server.close_notify_received
    assert client.close_notify_received


async def test_read_gathers_several_records_up_to_max_bytes() -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b)
    await _handshake(server, client)
    client.write(b"x" * 100_000)  # seven records
    await asyncio.sleep(0)
    first = await server.read(65536)
    assert len(first) == 65536
    rest = await server.read(65536)
    assert len(rest) == 100_000 - 65536


async def test_read_respects_small_max_bytes_and_loses_nothing() -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b)
    await _handshake(server, client)
    client.write(b"abcdefghij")
    got = b""
    while len(got) < 10:
        chunk = await server.read(3)
        assert 1 <= len(chunk) <= 3
        got += chunk
    assert got == b"abcdefghij"
    with pytest.raises(ValueError, match="max_bytes"):
        await server.read(0)


async def test_write_eof_sends_close_notify_and_reading_continues() -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b)
    await _handshake(server, client)
    client.write(b"request")
    assert client.can_write_eof()
    client.write_eof()
    assert await read_all(server) == b"request"
    assert server.close_notify_received
    # the server may still answer after the client's close_notify (TLS 1.3 half-close)
    server.write(b"response")
    server.write_eof()
    assert await read_all(client) == b"response"
    with pytest.raises(TlsStreamError, match="after write_eof"):
        client.write(b"more")
    client.write_eof()  # idempotent


async def test_bare_transport_eof_reads_as_eof_without_close_notify() -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b)
    await _handshake(server, client)
    client.write(b"last words")
    b.write_eof()  # transport EOF, no close_notify
    assert await read_all(server) == b"last words"
    assert not server.close_notify_received
    assert await server.read() == b""


async def test_close_sends_close_notify_and_closes_inner() -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b)
    await _handshake(server, client)
    await client.close()
    assert b.is_closing()
    assert client.is_closing()
    assert await server.read() == b""
    assert server.close_notify_received
    await client.close()  # idempotent


async def test_use_before_handshake_is_an_error() -> None:
    a, b = mock_stream_pair()
    server, _ = _pair(a, b)
    with pytest.raises(TlsStreamError, match="before the TLS handshake"):
        server.write(b"x")
    with pytest.raises(TlsStreamError, match="before the TLS handshake"):
        await server.read()
    assert isinstance(TlsStreamError("x"), StreamError)


async def test_role_is_validated() -> None:
    a, _ = mock_stream_pair()
    sctx, _ = memory_pair_contexts()
    with pytest.raises(ValueError, match="role"):
        TlsStream(a, SSL.Connection(sctx, None), role="peer")  # type: ignore[arg-type]


async def test_handshake_timeout_when_the_peer_never_answers() -> None:
    a, _b = mock_stream_pair()
    _, cctx = memory_pair_contexts()
    client = TlsStream(a, SSL.Connection(cctx, None), role="client", server_name="localhost")
    with pytest.raises(TlsHandshakeTimeoutError) as info:
        await client.handshake(0.05)
    assert isinstance(info.value, PyramaTimeoutError)
    assert isinstance(info.value, TlsHandshakeError)
    assert info.value.seconds == 0.05
    assert info.value.role == "client"


async def test_peer_closing_during_handshake_is_a_handshake_error() -> None:
    a, b = mock_stream_pair()
    _, cctx = memory_pair_contexts()
    client = TlsStream(a, SSL.Connection(cctx, None), role="client", server_name="localhost")
    task = asyncio.create_task(client.handshake(5))
    await asyncio.sleep(0.01)
    await b.close()
    with pytest.raises(TlsHandshakeError) as info:
        await task
    assert info.value.reason == "unexpected eof"
    assert info.value.side is Side.REMOTE


async def test_garbage_from_the_client_fails_the_server_handshake() -> None:
    a, b = mock_stream_pair()
    sctx, _ = memory_pair_contexts()
    server = TlsStream(a, SSL.Connection(sctx, None), role="server")
    b.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(TlsHandshakeError) as info:
        await server.handshake(5)
    assert info.value.side is Side.REMOTE
    assert info.value.reason
    assert isinstance(info.value.__cause__, SSL.Error)


async def test_untrusted_server_certificate_is_a_verify_error() -> None:
    a, b = mock_stream_pair()
    server, client = _pair(a, b, client_kw={"ca_certificates": [pki().other_ca.cert]})
    results = await asyncio.gather(server.handshake(5), client.handshake(5), return_exceptions=True)
    err = results[1]
    assert isinstance(err, CertificateVerifyError)
    assert err.side is Side.LOCAL
    assert err.verify_code == 20  # unable to get local issuer certificate
    assert err.depth == 0
    assert "local issuer" in str(err)
    # the client told the server why (an alert), so the server fails too, blaming the peer
    assert isinstance(results[0], TlsHandshakeError)
    assert results[0].side is Side.REMOTE
    assert "alert" in (results[0].reason or "")


class _Relay(StreamWrapper):
    """A stream wrapper with its own extensions map (stands for a tunnel)."""

    def __init__(self, inner: Stream) -> None:
        super().__init__(inner)
        self._ext = Extensions()

    @property
    def extensions(self) -> Extensions:
        return self._ext


async def test_tls_over_tls() -> None:
    # outer TLS between client and "proxy"; inner TLS from client to "origin" through it
    a, b = mock_stream_pair()
    outer_server, outer_client = _pair(a, b)
    await _handshake(outer_server, outer_client)

    # the proxy relays the outer TLS stream's plaintext to the origin over another pipe
    c, d = mock_stream_pair()
    relay = asyncio.create_task(bridge(outer_server, c))

    sctx, cctx = memory_pair_contexts(server_data(alpn=["h2"]), client_data(alpn=["h2"]))
    origin = TlsStream(d, SSL.Connection(sctx, None), role="server")
    inner_client = TlsStream(
        _Relay(outer_client), SSL.Connection(cctx, None), role="client", server_name="localhost"
    )
    sn, cn = await _handshake(origin, inner_client)
    assert cn.alpn == sn.alpn == "h2"
    payload = os.urandom(300_000)
    inner_client.write(payload)
    inner_client.write_eof()
    got = await read_all(origin)
    assert got == payload
    origin.write(b"done")
    await origin.close()
    assert await read_all(inner_client) == b"done"
    await inner_client.close()
    await relay


async def test_abort_forwards_to_the_inner_stream() -> None:
    class Abortable(MockStream):
        aborted = False

        def abort(self) -> None:
            self.aborted = True

    inner = Abortable()
    _, cctx = memory_pair_contexts()
    tls = TlsStream(inner, SSL.Connection(cctx, None), role="client")
    tls.abort()
    assert inner.aborted
    assert tls.is_closing()
    assert "handshaking" in repr(tls)
