"""TlsAcceptorLayer over a real TcpListener: ALPN, SNI, versions, issuers, bad input."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import pytest
import uvloop
from structlog.testing import capture_logs
from tls_support import (
    client_data,
    connect,
    echo,
    pki,
    read_all,
    server_data,
    tls_server,
)

from pyrama_core.errors import ConfigError, Side
from pyrama_net import SocketInfo, Stream
from pyrama_tls import (
    ClientAuth,
    ClientHello,
    NegotiatedTls,
    TlsAcceptor,
    TlsAcceptorData,
    TlsAcceptorLayer,
    TlsStream,
    TlsVersion,
    self_signed_leaf,
)
from pyrama_tls._issuer import DynamicIssuer
from pyrama_tls.errors import CertificateNameError, TlsHandshakeError, TlsHandshakeTimeoutError


def _seen_by_server() -> tuple[list[NegotiatedTls], Any]:
    seen: list[NegotiatedTls] = []

    async def handler(stream: Stream) -> None:
        seen.append(stream.extensions.require(NegotiatedTls))
        assert stream.extensions.get(SocketInfo) is not None
        await echo(stream)

    return seen, handler


async def _roundtrip(tls: TlsStream, data: bytes = b"ping") -> bytes:
    tls.write(data)
    tls.write_eof()
    out = await read_all(tls)
    await tls.close()
    return out


@pytest.mark.parametrize("version", [TlsVersion.TLS1_2, TlsVersion.TLS1_3])
async def test_tcp_round_trip_and_negotiated_facts_on_both_ends(version: TlsVersion) -> None:
    seen, handler = _seen_by_server()
    data = server_data(alpn=["h2", "http/1.1"], max_version=version)
    async with tls_server(data, handler) as listener:
        tls = await connect(listener, client_data(alpn=["http/1.1", "h2"]))
        client = tls.extensions.require(NegotiatedTls)
        assert await _roundtrip(tls, b"hello") == b"hello"
    (server,) = seen
    assert server.version == client.version == version.value
    # the server's preference wins among what the client offered
    assert server.alpn == client.alpn == "h2"
    assert server.server_name == client.server_name == "localhost"
    assert client.peer_certificate == pki().server.leaf
    # the acceptor peeked and parsed the ClientHello
    hello = server.client_hello
    assert isinstance(hello, ClientHello)
    assert hello.server_name == "localhost"
    assert tls.extensions.get(SocketInfo) is not None  # transport facts stay visible


async def test_alpn_without_overlap_continues_without_alpn_by_default() -> None:
    seen, handler = _seen_by_server()
    async with tls_server(server_data(alpn=["h2"]), handler) as listener:
        tls = await connect(listener, client_data(alpn=["spdy/3"]))
        assert tls.extensions.require(NegotiatedTls).alpn is None
        assert await _roundtrip(tls) == b"ping"
    assert seen[0].alpn is None


async def test_alpn_strict_refuses_a_client_without_overlap() -> None:
    async with tls_server(server_data(alpn=["h2"], alpn_strict=True)) as listener:
        with pytest.raises(TlsHandshakeError) as info:
            await connect(listener, client_data(alpn=["http/1.1"]))
        assert "no application protocol" in (info.value.reason or "")
        # a client offering h2 is still served
        tls = await connect(listener, client_data(alpn=["h2"]))
        assert tls.extensions.require(NegotiatedTls).alpn == "h2"
        assert await _roundtrip(tls) == b"ping"


async def test_client_without_alpn_gets_no_alpn() -> None:
    seen, handler = _seen_by_server()
    async with tls_server(server_data(alpn=["h2"], alpn_strict=True), handler) as listener:
        tls = await connect(listener, client_data())
        assert await _roundtrip(tls) == b"ping"
    assert seen[0].alpn is None


async def test_version_bounds_refuse_a_client_that_cannot_meet_them() -> None:
    async with tls_server(server_data(min_version="TLSv1.3")) as listener:
        with pytest.raises(TlsHandshakeError) as info:
            await connect(listener, client_data(max_version=TlsVersion.TLS1_2))
        assert info.value.side is Side.REMOTE  # the server refused us with an alert
        tls = await connect(listener, client_data())
        assert tls.extensions.require(NegotiatedTls).version == "TLSv1.3"
        await tls.close()


async def test_dynamic_issuer_serves_a_certificate_per_sni() -> None:
    seen, handler = _seen_by_server()
    issuer = DynamicIssuer(pki().ca)
    data = server_data(certified_key=None, issuer=issuer)
    async with tls_server(data, handler) as listener:
        for name in ("a.example.test", "b.example.test", "a.example.test"):
            tls = await connect(listener, client_data(server_name=name))
            leaf = tls.extensions.require(NegotiatedTls).peer_certificate
            assert leaf is not None
            assert leaf == issuer.certified_key_for(name).leaf
            assert await _roundtrip(tls) == b"ping"
    assert [n.server_name for n in seen] == ["a.example.test", "b.example.test", "a.example.test"]


@pytest.mark.parametrize("peek", [True, False])
async def test_issuer_contexts_are_cached_and_bounded(peek: bool) -> None:
    issuer = DynamicIssuer(pki().ca)
    acceptor = TlsAcceptor(
        server_data(
            certified_key=None, issuer=issuer, max_cached_contexts=2, peek_client_hello=peek
        )
    )
    svc = TlsAcceptorLayer(acceptor.data)
    assert svc.data is acceptor.data
    ctx_a = acceptor.context_for("a.example.test")
    assert acceptor.context_for("a.example.test") is ctx_a
    acceptor.context_for("b.example.test")
    acceptor.context_for("c.example.test")
    assert acceptor.cached_contexts() == 2
    assert acceptor.context_for("a.example.test") is not ctx_a  # evicted, rebuilt


@pytest.mark.parametrize("peek", [True, False])
async def test_issuer_without_default_refuses_clients_without_sni(peek: bool) -> None:
    issuer = DynamicIssuer(pki().ca)
    data = server_data(certified_key=None, issuer=issuer, peek_client_hello=peek)
    async with tls_server(data) as listener:
        # an IP literal sends no SNI
        with pytest.raises(TlsHandshakeError):
            await connect(listener, client_data(), host="127.0.0.1")
        # a default certified_key serves them
    data = server_data(issuer=issuer, peek_client_hello=peek)
    async with tls_server(data) as listener:
        tls = await connect(listener, client_data(), host="127.0.0.1")
        assert tls.extensions.require(NegotiatedTls).peer_certificate == pki().server.leaf
        assert await _roundtrip(tls) == b"ping"


@pytest.mark.parametrize("peek", [True, False])
async def test_issuer_refusing_a_name_fails_only_that_handshake(peek: bool) -> None:
    issuer = DynamicIssuer(pki().ca)
    data = server_data(certified_key=None, issuer=issuer, peek_client_hello=peek)
    with pytest.raises(CertificateNameError):
        TlsAcceptor(data).context_for("bad name!")
    async with tls_server(data) as listener:
        with pytest.raises(TlsHandshakeError):
            await connect(listener, client_data(server_name="bad name!", insecure=True))
        tls = await connect(listener, client_data(server_name="ok.example.test"))
        assert await _roundtrip(tls) == b"ping"


async def _raw_exchange(port: int, data: bytes, *, eof: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if eof:
        writer.write_eof()
    try:
        got = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    return got


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", id="plain-http"),
        pytest.param(b"\x00\x01\x02\x03 random garbage \xff" * 20, id="garbage"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", id="truncated-hello"),
        pytest.param(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", id="malformed-hello"),
    ],
)
async def test_bad_input_is_closed_cleanly_and_the_listener_keeps_serving(garbage: bytes) -> None:
    with capture_logs() as log_events:
        async with tls_server(server_data()) as listener:
            port = listener.local_addr.port
            reply = await _raw_exchange(port, garbage)
            # at most a TLS alert record comes back, never a crash dump or a hang
            assert reply == b"" or reply[:1] == b"\x15"
            tls = await connect(listener)
            assert await _roundtrip(tls) == b"ping"
    failures = [e for e in log_events if e.get("event") == "tls handshake failed"]
    assert len(failures) == 1
    assert failures[0]["peer"][0] == "127.0.0.1"
    assert failures[0]["reason"]


async def test_stalled_handshake_times_out_and_others_are_served() -> None:
    with capture_logs() as log_events:
        async with tls_server(server_data(handshake_timeout=0.2)) as listener:
            port = listener.local_addr.port
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\x16\x03\x01\x02\x00")  # a record header, then nothing
            await writer.drain()
            tls = await connect(listener)  # served meanwhile
            assert await _roundtrip(tls) == b"ping"
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
            writer.close()
            await writer.wait_closed()
    failures = [e for e in log_events if e.get("event") == "tls handshake failed"]
    assert len(failures) == 1
    assert failures[0]["reason"] == "timeout"


async def test_accept_raises_the_timeout_error_type() -> None:
    a_sock, b_sock = socket.socketpair()
    from pyrama_net import open_socket_stream

    stream = await open_socket_stream(a_sock)
    acceptor = TlsAcceptor(server_data(handshake_timeout=0.05))
    with pytest.raises(TlsHandshakeTimeoutError):
        await acceptor.accept(stream)
    assert stream.is_closing()
    b_sock.close()


async def test_python_ssl_client_can_talk_to_the_acceptor() -> None:
    async with tls_server(server_data(alpn=["h2", "http/1.1"])) as listener:
        ctx = ssl.create_default_context(cadata=pki().ca.cert_pem().decode())
        ctx.set_alpn_protocols(["http/1.1"])
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", listener.local_addr.port, ssl=ctx, server_hostname="localhost"
        )
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        writer.write(b"from python ssl")
        await writer.drain()
        assert await reader.readexactly(15) == b"from python ssl"
        writer.close()
        await writer.wait_closed()


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="certified_key, issuer"):
        TlsAcceptorData()
    key = self_signed_leaf(["x.test"])
    with pytest.raises(ConfigError, match="client_ca"):
        TlsAcceptorData(certified_key=key, client_auth=ClientAuth.REQUIRED)
    with pytest.raises(ConfigError, match="client_auth"):
        TlsAcceptorData(certified_key=key, client_auth="sometimes")
    with pytest.raises(ConfigError, match="alpn"):
        TlsAcceptorData(certified_key=key, alpn="h2")
    with pytest.raises(ConfigError, match=r"1\.\.255"):
        TlsAcceptorData(certified_key=key, alpn=[""])
    with pytest.raises(ConfigError, match=r"1\.\.255"):
        TlsAcceptorData(certified_key=key, alpn=["x" * 256])
    with pytest.raises(ConfigError, match="above max_version"):
        TlsAcceptorData(certified_key=key, min_version="1.3", max_version="1.2")
    with pytest.raises(ConfigError, match="unknown TLS version"):
        TlsAcceptorData(certified_key=key, min_version="SSLv3")
    with pytest.raises(ConfigError, match="handshake_timeout"):
        TlsAcceptorData(certified_key=key, handshake_timeout=0)
    with pytest.raises(ConfigError, match="client_hello_max_size"):
        TlsAcceptorData(certified_key=key, client_hello_max_size=100)
    with pytest.raises(ConfigError, match="max_cached_contexts"):
        TlsAcceptorData(certified_key=key, max_cached_contexts=0)
    with pytest.raises(ConfigError, match="OpenSSL refused"):
        TlsAcceptor(TlsAcceptorData(certified_key=key, cipher_list="NOT-A-CIPHER"))
    with pytest.raises(ConfigError, match="groups"):
        TlsAcceptor(TlsAcceptorData(certified_key=key, groups=["no-such-group"]))
    with pytest.raises(TypeError):
        TlsAcceptorLayer(object())  # type: ignore[arg-type]
    data = TlsAcceptorData(certified_key=key, alpn=[b"h2", "h2", "http/1.1"])
    assert data.alpn == (b"h2", b"http/1.1")  # duplicates dropped, order kept


async def test_self_signed_and_pem_constructors(tmp_path: Any) -> None:
    data = TlsAcceptorData.self_signed(["dev.test"], keylog_from_env=False)
    assert data.certified_key is not None
    assert data.certified_key.dns_names() == ["dev.test"]
    key = pki().server
    (tmp_path / "c.pem").write_bytes(key.chain_pem())
    (tmp_path / "k.pem").write_bytes(key.key_pem())
    loaded = TlsAcceptorData.from_pem_files(tmp_path / "c.pem", tmp_path / "k.pem")
    assert loaded.certified_key is not None
    assert loaded.certified_key.leaf == key.leaf
    async with tls_server(loaded) as listener:
        tls = await connect(listener)
        assert await _roundtrip(tls) == b"ping"


async def test_groups_and_ciphers_are_applied() -> None:
    data = server_data(
        groups=["P-256"], cipher_list="ECDHE-ECDSA-AES128-GCM-SHA256", max_version="1.2"
    )
    async with tls_server(data) as listener:
        tls = await connect(listener)
        n = tls.extensions.require(NegotiatedTls)
        assert n.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256"
        assert n.group in ("prime256v1", "secp256r1", "P-256")
        await tls.close()
    data = server_data(ciphersuites=["TLS_CHACHA20_POLY1305_SHA256"])
    async with tls_server(data) as listener:
        tls = await connect(listener)
        assert tls.extensions.require(NegotiatedTls).cipher == "TLS_CHACHA20_POLY1305_SHA256"
        await tls.close()


async def test_inner_service_errors_propagate_and_close_the_stream() -> None:
    class Boom(Exception):
        pass

    async def handler(stream: Stream) -> None:
        stream.write(b"partial")
        await stream.drain()
        raise Boom

    assert "TlsAcceptorLayer" in repr(TlsAcceptorLayer(server_data()))
    async with tls_server(server_data(), handler) as listener:
        tls = await connect(listener)
        assert await read_all(tls) == b"partial"
        # a failing service ends the stream without close_notify: truncation, not a clean end
        assert not tls.close_notify_received
        await tls.close()


async def test_a_returning_service_ends_the_stream_with_close_notify() -> None:
    async def handler(stream: Stream) -> None:
        stream.write(b"complete")

    async with tls_server(server_data(), handler) as listener:
        tls = await connect(listener)
        assert await read_all(tls) == b"complete"
        assert tls.close_notify_received
        await tls.close()


async def test_client_hello_size_limit() -> None:
    # OpenSSL's default ClientHello carries an X25519MLKEM768 key share (>1 KiB)
    async with tls_server(server_data(client_hello_max_size=512)) as listener:
        with capture_logs() as events, pytest.raises(TlsHandshakeError):
            await connect(listener)
        (failure,) = [e for e in events if e.get("event") == "tls handshake failed"]
        assert failure["reason"] == "bad client hello"
        assert "512" in failure["error"]
        # a smaller hello (classic groups only) fits
        tls = await connect(listener, client_data(groups=["X25519"]))
        hello = tls.extensions.require(NegotiatedTls)
        assert hello.version == "TLSv1.3"
        assert await _roundtrip(tls) == b"ping"


def test_round_trip_on_uvloop() -> None:
    async def main() -> bytes:
        async with tls_server(server_data(alpn=["h2"])) as listener:
            tls = await connect(listener, client_data(alpn=["h2"]))
            assert tls.extensions.require(NegotiatedTls).alpn == "h2"
            return await _roundtrip(tls, b"uvloop")

    assert uvloop.run(main()) == b"uvloop"


class _PickyIssuer:
    """Refuses one name as unfit for a certificate, crashes on another, serves the rest."""

    def __init__(self) -> None:
        self.inner = DynamicIssuer(pki().ca)

    def certified_key_for(self, server_name: str) -> Any:
        if server_name == "refused.example.test":
            raise CertificateNameError("refusing to issue a certificate for that name")
        if server_name == "crash.example.test":
            raise RuntimeError("the issuer's backend is down")
        return self.inner.certified_key_for(server_name)


@pytest.mark.parametrize("peek", [True, False])
async def test_a_refused_name_gets_an_alert_not_a_bare_close(peek: bool) -> None:
    data = server_data(certified_key=None, issuer=_PickyIssuer(), peek_client_hello=peek)
    with capture_logs() as log_events:
        async with tls_server(data) as listener:
            with pytest.raises(TlsHandshakeError) as refused:
                await connect(listener, client_data(server_name="refused.example.test"))
            assert "unrecognized name" in (refused.value.reason or "")
            assert refused.value.side is Side.REMOTE
            with pytest.raises(TlsHandshakeError) as crashed:
                await connect(listener, client_data(server_name="crash.example.test"))
            assert "internal error" in (crashed.value.reason or "")
            # a client without SNI, and no default certificate: missing_extension
            with pytest.raises(TlsHandshakeError) as no_sni:
                await connect(listener, client_data(), host="127.0.0.1")
            assert "missing extension" in (no_sni.value.reason or "")
            tls = await connect(listener, client_data(server_name="ok.example.test"))
            assert await _roundtrip(tls) == b"ping"
    failures = [e for e in log_events if e.get("event") == "tls handshake failed"]
    assert [f["reason"] for f in failures] == ["certificate issuance failed"] * 3
    assert [f["sni"] for f in failures] == ["refused.example.test", "crash.example.test", None]
    assert all(f["side"] == "local" for f in failures)


async def test_a_refused_name_fails_new_stream_handshakes_with_the_issuance_error() -> None:
    acceptor = TlsAcceptor(server_data(certified_key=None, issuer=_PickyIssuer()))
    a_sock, b_sock = socket.socketpair()
    from pyrama_net import open_socket_stream

    stream = await open_socket_stream(a_sock)
    tls = await acceptor.new_stream(stream, "refused.example.test")  # no error yet
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    peer = client.wrap_bio(incoming, outgoing, server_hostname="refused.example.test")
    with pytest.raises(ssl.SSLWantReadError):
        peer.do_handshake()
    b_sock.sendall(outgoing.read())
    with pytest.raises(TlsHandshakeError) as info:
        await tls.handshake(5)
    assert info.value.reason == "certificate issuance failed"
    assert isinstance(info.value.__cause__, CertificateNameError)
    b_sock.settimeout(5)
    incoming.write(b_sock.recv(65536))
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
        peer.do_handshake()
    await tls.close()
    b_sock.close()


async def test_a_malformed_client_hello_gets_the_alert_the_parser_names() -> None:
    data = server_data()
    async with tls_server(data) as listener:
        # a ClientHello whose SNI holds a space: the parser refuses it (decode_error)
        with pytest.raises(TlsHandshakeError) as info:
            await connect(listener, client_data(server_name="bad name!", insecure=True))
        assert "decode error" in (info.value.reason or "")
        reply = await _raw_exchange(
            listener.local_addr.port, b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"
        )
        assert reply == bytes((21, 3, 3, 0, 2, 2, 50))  # fatal decode_error, in plaintext
