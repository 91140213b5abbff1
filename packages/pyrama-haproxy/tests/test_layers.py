"""HaProxyLayer (server) and HaProxyClientLayer (client) over in-memory streams."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from pyrama_core import service_fn
from pyrama_core.errors import ConfigError, PyramaTimeoutError, Side, is_connection_fault
from pyrama_haproxy import (
    DEFAULT_MAX_V2_PAYLOAD,
    V2_SIGNATURE,
    Decoded,
    HaProxyClientLayer,
    HaProxyLayer,
    ProxyCommand,
    ProxyHeader,
    ProxyProtocolInfo,
    ProxyVersion,
    Tlv,
    decode_header,
    header_for_stream,
)
from pyrama_haproxy.errors import (
    ProxyHeaderError,
    ProxyHeaderMissingError,
    ProxyHeaderTimeoutError,
    ProxyHeaderTooLargeError,
)
from pyrama_net import EstablishedConnection, SocketAddress, SocketInfo, Stream
from pyrama_testing import MockStream, mock_stream_pair

CLIENT = SocketAddress.parse("203.0.113.7:40000")
FRONT = SocketAddress.parse("198.51.100.1:443")
PROXY_INFO = SocketInfo(local=("127.0.0.1", 8080), peer=("127.0.0.1", 50000), family=socket.AF_INET)


class Seen:
    """An inner service that records what it got: the stream's facts and every byte."""

    def __init__(self) -> None:
        self.data = b""
        self.stream: Stream | None = None
        self.info: SocketInfo | None = None
        self.proxy: ProxyProtocolInfo | None = None
        self.started = asyncio.Event()

    async def serve(self, stream: Stream) -> str:
        self.stream = stream
        self.started.set()
        self.info = stream.extensions.get(SocketInfo)
        self.proxy = stream.extensions.get(ProxyProtocolInfo)
        while chunk := await stream.read():
            self.data += chunk
        return "done"


def server_stream(*chunks: bytes, eof: bool = True) -> MockStream:
    s = MockStream()
    s.extensions.insert(PROXY_INFO)
    for c in chunks:
        s.feed(c)
    if eof:
        s.feed_eof()
    return s


async def test_v1_header_rewrites_peer_and_passes_payload() -> None:
    seen = Seen()
    svc = HaProxyLayer().layer(seen)
    line = ProxyHeader(version=ProxyVersion.V1, source=CLIENT, destination=FRONT).encode()
    assert await svc.serve(server_stream(line + b"hello", b" world")) == "done"
    assert seen.data == b"hello world"
    assert seen.info is not None
    assert seen.info.peer == ("203.0.113.7", 40000)
    assert seen.info.local == ("198.51.100.1", 443)
    assert seen.info.peer_address == CLIENT
    assert seen.proxy is not None
    assert seen.proxy.proxy == PROXY_INFO
    assert seen.proxy.client_address == CLIENT
    assert seen.proxy.header.version is ProxyVersion.V1


async def test_v2_header_split_byte_by_byte_with_tlvs_and_ipv6() -> None:
    seen = Seen()
    src = SocketAddress.parse("[2001:db8::7]:1")
    dst = SocketAddress.parse("[2001:db8::1]:2")
    h = ProxyHeader(
        source=src, destination=dst, tlvs=(Tlv.crc32c(), Tlv.authority("a.test"), Tlv.alpn("h2"))
    )
    stream = server_stream(eof=False)

    async def trickle() -> None:
        for b in h.encode():
            stream.feed(bytes([b]))
            await asyncio.sleep(0)
        stream.feed(b"GET")
        stream.feed_eof()

    task = asyncio.create_task(trickle())
    await HaProxyLayer().layer(seen).serve(stream)
    await task
    assert seen.data == b"GET"
    assert seen.info is not None
    assert seen.info.peer == ("2001:db8::7", 1, 0, 0)
    assert seen.info.family == socket.AF_INET6
    assert seen.proxy is not None
    assert seen.proxy.header.authority == "a.test"
    assert seen.proxy.header.alpn == b"h2"


async def test_header_alone_hands_on_the_original_stream() -> None:
    seen = Seen()
    stream = server_stream(ProxyHeader(source=CLIENT, destination=FRONT).encode())
    await HaProxyLayer().layer(seen).serve(stream)
    assert seen.stream is stream
    assert seen.data == b""


async def test_unix_family_sets_unix_socket_info() -> None:
    seen = Seen()
    h = ProxyHeader(source=b"/run/c.sock", destination=b"/run/s.sock")
    await HaProxyLayer().layer(seen).serve(server_stream(h.encode() + b"x"))
    assert seen.info == SocketInfo(local="/run/s.sock", peer="/run/c.sock", family=socket.AF_UNIX)


@pytest.mark.parametrize(
    "header",
    [
        ProxyHeader(command=ProxyCommand.LOCAL),
        ProxyHeader(command=ProxyCommand.LOCAL, source=CLIENT, destination=FRONT),
        ProxyHeader(version=ProxyVersion.V1),  # UNKNOWN
        ProxyHeader(),  # PROXY over AF_UNSPEC
    ],
)
async def test_local_and_unknown_keep_the_real_peer(header: ProxyHeader) -> None:
    seen = Seen()
    await HaProxyLayer().layer(seen).serve(server_stream(header.encode() + b"ping"))
    assert seen.data == b"ping"
    assert seen.info == PROXY_INFO
    assert seen.proxy is not None
    assert seen.proxy.header == header
    assert seen.proxy.client_address is None


async def test_strict_without_header_closes_and_raises() -> None:
    seen = Seen()
    stream = server_stream(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(ProxyHeaderMissingError) as info:
        await HaProxyLayer().layer(seen).serve(stream)
    assert stream.is_closing()
    assert seen.stream is None
    assert info.value.side is Side.REMOTE
    assert is_connection_fault(info.value)


async def test_strict_bad_header_closes_and_raises() -> None:
    stream = server_stream(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n")
    with pytest.raises(ProxyHeaderError, match="port"):
        await HaProxyLayer().layer(Seen()).serve(stream)
    assert stream.is_closing()


async def test_eof_inside_header_is_an_error() -> None:
    with pytest.raises(ProxyHeaderError, match="ended"):
        await HaProxyLayer().layer(Seen()).serve(server_stream(b"PROXY TCP4 1.2"))
    with pytest.raises(ProxyHeaderError, match="ended"):
        await HaProxyLayer().layer(Seen()).serve(server_stream(b""))


async def test_header_timeout() -> None:
    stream = server_stream(b"PROXY TCP4 ", eof=False)
    with pytest.raises(ProxyHeaderTimeoutError) as info:
        await HaProxyLayer(timeout=0.05).layer(Seen()).serve(stream)
    assert isinstance(info.value, PyramaTimeoutError)
    assert isinstance(info.value, TimeoutError)
    assert info.value.seconds == 0.05
    assert stream.is_closing()


async def test_v2_length_limit_is_enforced_by_the_layer() -> None:
    too_big = V2_SIGNATURE + b"\x21\x00" + (DEFAULT_MAX_V2_PAYLOAD + 1).to_bytes(2, "big")
    with pytest.raises(ProxyHeaderTooLargeError):
        await HaProxyLayer().layer(Seen()).serve(server_stream(too_big, eof=False))
    seen = Seen()
    big = ProxyHeader(tlvs=(Tlv.noop(DEFAULT_MAX_V2_PAYLOAD + 100),))
    await HaProxyLayer(max_v2_payload=65535).layer(seen).serve(server_stream(big.encode() + b"k"))
    assert seen.data == b"k"


@pytest.mark.parametrize(
    "payload", [b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00", b"P", b"PROXX", b"\r\n\r\nX"]
)
async def test_lenient_passes_plain_connections_untouched(payload: bytes) -> None:
    seen = Seen()
    await HaProxyLayer(strict=False).layer(seen).serve(server_stream(payload))
    assert seen.data == payload
    assert seen.proxy is None
    assert seen.info == PROXY_INFO


async def test_lenient_still_decodes_headers_and_rejects_broken_ones() -> None:
    seen = Seen()
    line = ProxyHeader(version=ProxyVersion.V1, source=CLIENT, destination=FRONT).encode()
    await HaProxyLayer(strict=False).layer(seen).serve(server_stream(line + b"x"))
    assert seen.data == b"x"
    assert seen.info is not None
    assert seen.info.peer_address == CLIENT
    with pytest.raises(ProxyHeaderError):
        await HaProxyLayer(strict=False).layer(Seen()).serve(server_stream(b"PROXY TCP9\r\n"))


async def test_lenient_silent_client_is_served_after_the_timeout() -> None:
    # a protocol where the server speaks first: nothing arrives, the inner service runs
    stream = server_stream(eof=False)
    greeted = asyncio.Event()

    async def greet(s: Stream) -> None:
        s.write(b"220 hello\r\n")
        greeted.set()
        assert await s.read() == b"QUIT\r\n"

    task = asyncio.create_task(
        HaProxyLayer(strict=False, timeout=0.05).layer(service_fn(greet)).serve(stream)
    )
    await asyncio.wait_for(greeted.wait(), 10)
    assert stream.written == [b"220 hello\r\n"]
    stream.feed(b"QUIT\r\n")
    await asyncio.wait_for(task, 10)


async def test_lenient_timeout_mid_signature_passes_bytes_through() -> None:
    seen = Seen()
    stream = server_stream(b"PRO", eof=False)
    task = asyncio.create_task(HaProxyLayer(strict=False, timeout=0.05).layer(seen).serve(stream))
    await asyncio.wait_for(seen.started.wait(), 10)
    stream.feed(b"TOCOL")
    stream.feed_eof()
    await asyncio.wait_for(task, 10)
    assert seen.data == b"PROTOCOL"


def test_layer_settings_are_validated() -> None:
    with pytest.raises(ConfigError):
        HaProxyLayer(timeout=0)
    with pytest.raises(ConfigError):
        HaProxyLayer(max_v2_payload=65536)
    with pytest.raises(ConfigError):
        HaProxyLayer(max_v2_payload=-1)
    with pytest.raises(ConfigError):
        HaProxyClientLayer(ProxyVersion.V1, tlvs=(Tlv.alpn("h2"),))


# -- client ------------------------------------------------------------------------------------


class FakeConnector:
    """A connector that hands out one end of an in-memory pair with SocketInfo attached."""

    def __init__(self, info: SocketInfo | None) -> None:
        self.info = info
        self.far: MockStream | None = None

    async def serve(self, target: Any) -> EstablishedConnection[Any, MockStream]:
        near, far = mock_stream_pair()
        if self.info is not None:
            near.extensions.insert(self.info)
        self.far = far
        return EstablishedConnection(near, target, near.extensions)


def sent_header(conn: FakeConnector) -> Decoded:
    assert conn.far is not None
    res = decode_header(bytes(conn.far._buf))
    assert isinstance(res, Decoded)
    return res


CONN_INFO = SocketInfo(local=("10.0.0.1", 3333), peer=("10.0.0.2", 80), family=socket.AF_INET)


async def test_client_layer_writes_v2_with_stream_addresses_and_tlvs() -> None:
    conn = FakeConnector(CONN_INFO)
    svc = HaProxyClientLayer(tlvs=(Tlv.crc32c(), Tlv.unique_id(b"abc"))).layer(conn)
    est = await svc.serve(("example", 80))
    est.conn.write(b"after")
    h = sent_header(conn)
    assert h.header.source == SocketAddress.parse("10.0.0.1:3333")
    assert h.header.destination == SocketAddress.parse("10.0.0.2:80")
    assert h.header.unique_id == b"abc"
    assert h.header.crc32c is not None
    assert conn.far is not None
    assert bytes(conn.far._buf)[h.consumed :] == b"after"
    assert est.target == ("example", 80)


async def test_client_layer_v1_and_explicit_source() -> None:
    conn = FakeConnector(CONN_INFO)
    await HaProxyClientLayer(ProxyVersion.V1, source=CLIENT).layer(conn).serve("t")
    h = sent_header(conn).header
    assert h.version is ProxyVersion.V1
    assert (h.source, h.destination) == (CLIENT, SocketAddress.parse("10.0.0.2:80"))


async def test_client_layer_without_addresses_sends_unknown() -> None:
    for version, expect in ((ProxyVersion.V1, b"PROXY UNKNOWN\r\n"), (ProxyVersion.V2, None)):
        conn = FakeConnector(None)
        await HaProxyClientLayer(version).layer(conn).serve("t")
        h = sent_header(conn).header
        assert h.source is None
        if expect is not None:
            assert h.encode() == expect
    unix = SocketInfo(local="", peer="/run/x.sock", family=socket.AF_UNIX)
    conn = FakeConnector(unix)
    await HaProxyClientLayer(ProxyVersion.V1).layer(conn).serve("t")
    assert sent_header(conn).header.source is None
    conn = FakeConnector(unix)
    await HaProxyClientLayer().layer(conn).serve("t")
    assert sent_header(conn).header.destination == b"/run/x.sock"


async def test_client_layer_header_fn_and_build_errors_close_the_stream() -> None:
    conn = FakeConnector(CONN_INFO)
    fixed = ProxyHeader(command=ProxyCommand.LOCAL)
    await HaProxyClientLayer(header_fn=lambda target, stream: fixed).layer(conn).serve("t")
    assert sent_header(conn).header == fixed

    conn = FakeConnector(CONN_INFO)
    svc = HaProxyClientLayer(source=b"/unix/path").layer(conn)  # unix source, IPv4 destination
    with pytest.raises(ProxyHeaderError) as info:
        await svc.serve("t")
    assert info.value.side is Side.LOCAL
    assert conn.far is not None
    assert conn.far._eof


def test_header_for_stream_strips_ipv6_zones() -> None:
    s = MockStream()
    s.extensions.insert(
        SocketInfo(local=("fe80::1%1", 5, 0, 1), peer=("fe80::2", 6, 0, 1), family=socket.AF_INET6)
    )
    h = header_for_stream(s)
    assert str(h.source) == "[fe80::1]:5"
    assert str(h.destination) == "[fe80::2]:6"
