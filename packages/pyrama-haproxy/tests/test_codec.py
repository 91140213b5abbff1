"""PROXY protocol codec: spec examples, TLVs, CRC32C, limits, and property tests."""

from __future__ import annotations

import contextlib
import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_core.errors import ConfigError, ProtocolError, PyramaError, Side
from pyrama_haproxy import (
    DEFAULT_MAX_V2_PAYLOAD,
    MAX_V1_HEADER_LENGTH,
    MAX_V2_PAYLOAD_LENGTH,
    V2_SIGNATURE,
    Decoded,
    NeedMore,
    ProxyCommand,
    ProxyFamily,
    ProxyHeader,
    ProxyTransport,
    ProxyVersion,
    SslClientFlags,
    SslSubType,
    SslTlv,
    Tlv,
    TlvType,
    crc32c,
    decode_header,
    detect_header,
)
from pyrama_haproxy.errors import (
    HaProxyError,
    ProxyHeaderError,
    ProxyHeaderMissingError,
    ProxyHeaderTooLargeError,
)
from pyrama_net import SocketAddress

V4_SRC = SocketAddress.parse("192.0.2.10:56324")
V4_DST = SocketAddress.parse("198.51.100.1:443")
V6_SRC = SocketAddress.parse("[2001:db8::1]:1234")
V6_DST = SocketAddress.parse("[2001:db8::2]:80")


def decoded(data: bytes, **kw: int) -> Decoded:
    res = decode_header(data, **kw)
    assert isinstance(res, Decoded), res
    return res


# -- CRC32C ------------------------------------------------------------------------------------


def test_crc32c_published_vectors() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    # RFC 3720 (iSCSI) B.4 test vectors
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C


@given(st.binary(), st.binary())
def test_crc32c_continues_over_pieces(a: bytes, b: bytes) -> None:
    assert crc32c(a + b) == crc32c(b, crc32c(a))


# -- v1 ----------------------------------------------------------------------------------------


def test_v1_tcp4_spec_example() -> None:
    data = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n"
    res = decoded(data)
    h = res.header
    assert res.consumed == data.index(b"GET")
    assert h.version is ProxyVersion.V1
    assert h.command is ProxyCommand.PROXY
    assert h.family is ProxyFamily.INET
    assert h.transport is ProxyTransport.STREAM
    assert h.source == V4_SRC
    assert h.destination == V4_DST
    assert h.encode() == data[: res.consumed]


def test_v1_tcp6_and_unknown() -> None:
    h = decoded(b"PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n").header
    assert (h.source, h.destination, h.family) == (V6_SRC, V6_DST, ProxyFamily.INET6)
    for line in (b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"):
        res = decoded(line + b"rest")
        assert res.consumed == len(line)
        assert res.header.source is None
        assert res.header.family is ProxyFamily.UNSPEC
        assert res.header.transport is ProxyTransport.UNSPEC
        assert res.header.encode() == b"PROXY UNKNOWN\r\n"


def test_v1_longest_line_fits_the_limit() -> None:
    h = ProxyHeader(
        version=ProxyVersion.V1,
        source=SocketAddress.parse("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
        destination=SocketAddress.parse("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
    )
    assert len(h.encode()) <= MAX_V1_HEADER_LENGTH
    assert decoded(h.encode()).header == h


@pytest.mark.parametrize(
    "line",
    [
        b"PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n",  # missing port
        b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443 x\r\n",
        b"PROXY TCP4 192.0.2.10  198.51.100.1 56324 443\r\n",  # double space
        b"PROXY TCP4 2001:db8::1 198.51.100.1 56324 443\r\n",
        b"PROXY TCP6 192.0.2.10 198.51.100.1 56324 443\r\n",
        b"PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n",  # zones are not addresses here
        b"PROXY TCP4 192.0.2.010 198.51.100.1 56324 443\r\n",  # leading zero octet
        b"PROXY TCP4 192.0.2.10 198.51.100.1 056324 443\r\n",  # leading zero port
        b"PROXY TCP4 192.0.2.10 198.51.100.1 65536 443\r\n",
        b"PROXY TCP4 192.0.2.10 198.51.100.1 +1 443\r\n",
        b"PROXY TCP4 192.0.2.10 198.51.100.1 \xd9\xa1 443\r\n",  # non-ASCII digit
        b"PROXY UDP4 192.0.2.10 198.51.100.1 1 2\r\n",
        b"PROXY \r\n",
        b"PROXY UNKNOWNX\r\n",
        b"PROXY TCP4 1.2.3.4\n",  # bare LF
        b"PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n",  # stray CR
    ],
)
def test_v1_malformed(line: bytes) -> None:
    with pytest.raises(ProxyHeaderError) as info:
        decode_header(line)
    assert info.value.side is Side.REMOTE
    assert isinstance(info.value, ProtocolError)


def test_v1_without_crlf_within_107_bytes_is_too_large() -> None:
    line = b"PROXY UNKNOWN " + b"x" * (MAX_V1_HEADER_LENGTH - 14)
    assert len(line) == MAX_V1_HEADER_LENGTH
    assert isinstance(decode_header(line[:-1]), NeedMore)
    with pytest.raises(ProxyHeaderTooLargeError) as info:
        decode_header(line)
    assert info.value.limit == MAX_V1_HEADER_LENGTH
    # exactly 107 bytes with CRLF is fine
    ok = b"PROXY UNKNOWN " + b"x" * (MAX_V1_HEADER_LENGTH - 16) + b"\r\n"
    assert decoded(ok + b"more").consumed == MAX_V1_HEADER_LENGTH


def test_need_more_for_every_prefix() -> None:
    for full in (
        ProxyHeader(version=ProxyVersion.V1, source=V4_SRC, destination=V4_DST).encode(),
        ProxyHeader(source=V6_SRC, destination=V6_DST, tlvs=(Tlv.alpn("h2"),)).encode(),
    ):
        for i in range(len(full)):
            assert isinstance(decode_header(full[:i]), NeedMore), (full, i)
        assert decoded(full).consumed == len(full)


def test_not_a_header() -> None:
    for data in (b"GET / HTTP/1.1\r\n", b"\x16\x03\x01", b"PROXX", b"\r\n\r\n\x00\r\nQUIX\n"):
        with pytest.raises(ProxyHeaderMissingError):
            decode_header(data)
        assert detect_header(data) is None
    assert detect_header(b"PRO") == NeedMore(6)
    assert detect_header(b"\r\n\r") == NeedMore(12)
    assert detect_header(b"PROXY ") is ProxyVersion.V1
    assert detect_header(V2_SIGNATURE) is ProxyVersion.V2


# -- v2 ----------------------------------------------------------------------------------------


def test_v2_inet_layout_by_hand() -> None:
    h = ProxyHeader(source=V4_SRC, destination=V4_DST)
    wire = h.encode()
    expect = (
        V2_SIGNATURE
        + b"\x21\x11\x00\x0c"
        + IPv4Address("192.0.2.10").packed
        + IPv4Address("198.51.100.1").packed
        + struct.pack("!HH", 56324, 443)
    )
    assert wire == expect
    assert decoded(wire + b"payload").header == h


def test_v2_local_unspec_and_udp6() -> None:
    local = ProxyHeader(command=ProxyCommand.LOCAL)
    assert local.encode() == V2_SIGNATURE + b"\x20\x00\x00\x00"
    assert decoded(local.encode()).header == local
    udp = ProxyHeader(source=V6_SRC, destination=V6_DST, transport=ProxyTransport.DGRAM)
    assert udp.encode()[12:16] == b"\x21\x22\x00\x24"
    assert decoded(udp.encode()).header == udp


def test_v2_unix_paths() -> None:
    h = ProxyHeader(source=b"/run/client.sock", destination=b"\x00abstract")
    wire = h.encode()
    assert wire[13] == 0x31
    assert len(wire) == 16 + 216
    got = decoded(wire).header
    assert got == h
    assert got.family is ProxyFamily.UNIX


def test_v2_local_with_unknown_family_discards_block() -> None:
    wire = V2_SIGNATURE + b"\x20\x45\x00\x03abc"
    res = decoded(wire)
    assert res.consumed == len(wire)
    assert res.header.command is ProxyCommand.LOCAL
    assert res.header.source is None


@pytest.mark.parametrize(
    "wire",
    [
        V2_SIGNATURE + b"\x11\x11\x00\x00",  # version 1 in a v2 block
        V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),  # command 2
        V2_SIGNATURE + b"\x21\x13\x00\x0c" + bytes(12),  # transport 3
        V2_SIGNATURE + b"\x21\x01\x00\x00",  # UNSPEC family with STREAM
        V2_SIGNATURE + b"\x21\x11\x00\x0b" + bytes(11),  # too short for IPv4
        V2_SIGNATURE + b"\x21\x21\x00\x20" + bytes(32),  # too short for IPv6
        V2_SIGNATURE + b"\x21\x31\x00\x10" + bytes(16),  # too short for Unix
        V2_SIGNATURE + b"\x21\x11\x00\x0e" + bytes(14),  # 2 stray bytes after the address
        V2_SIGNATURE + b"\x21\x11\x00\x10" + bytes(12) + b"\x04\x00\x05x",  # TLV overruns
        V2_SIGNATURE + b"\x21\x00\x00\x04" + b"\x03\x00\x01x",  # CRC32C of 1 byte
        V2_SIGNATURE + b"\x21\x00\x00\x04" + b"\x02\x00\x01\xff",  # AUTHORITY not UTF-8
        V2_SIGNATURE + b"\x21\x00\x00\x04" + b"\x20\x00\x01\x01",  # SSL TLV too short
    ],
)
def test_v2_malformed(wire: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        decode_header(wire)


def test_v2_length_limit_checked_from_the_prefix() -> None:
    prefix = V2_SIGNATURE + b"\x21\x00" + struct.pack("!H", DEFAULT_MAX_V2_PAYLOAD + 1)
    with pytest.raises(ProxyHeaderTooLargeError) as info:
        decode_header(prefix)  # refused before the payload is read
    assert info.value.limit == DEFAULT_MAX_V2_PAYLOAD
    at_limit = V2_SIGNATURE + b"\x21\x00" + struct.pack("!H", DEFAULT_MAX_V2_PAYLOAD)
    assert decode_header(at_limit) == NeedMore(16 + DEFAULT_MAX_V2_PAYLOAD)
    # a raised limit lets the largest header through
    big = ProxyHeader(tlvs=(Tlv.noop(MAX_V2_PAYLOAD_LENGTH - 3),))
    assert len(big.encode()) == 16 + MAX_V2_PAYLOAD_LENGTH
    assert decoded(big.encode(), max_v2_payload=MAX_V2_PAYLOAD_LENGTH).header == big
    with pytest.raises(ConfigError):
        decode_header(b"", max_v2_payload=MAX_V2_PAYLOAD_LENGTH + 1)


def test_v2_encode_refuses_more_than_the_length_field() -> None:
    with pytest.raises(ConfigError):
        ProxyHeader(source=V4_SRC, destination=V4_DST, tlvs=(Tlv.noop(MAX_V2_PAYLOAD_LENGTH - 3),))
    with pytest.raises(ConfigError):
        Tlv(0xE0, bytes(MAX_V2_PAYLOAD_LENGTH + 1))


# -- TLVs --------------------------------------------------------------------------------------


def test_tlvs_round_trip_and_accessors() -> None:
    ssl = SslTlv.build(
        client=SslClientFlags.SSL | SslClientFlags.CERT_CONN,
        version="TLSv1.3",
        cn="client.example",
        cipher="TLS_AES_128_GCM_SHA256",
        sig_alg="RSA-SHA256",
        key_alg="RSA2048",
    )
    h = ProxyHeader(
        source=V4_SRC,
        destination=V4_DST,
        tlvs=(
            Tlv.alpn("h2"),
            Tlv.authority("example.com"),
            Tlv.unique_id(b"u" * 128),
            ssl.to_tlv(),
            Tlv.netns("blue"),
            Tlv.custom(0xE1, b"\x00custom"),
            Tlv.noop(3),
            Tlv.crc32c(),
        ),
    )
    got = decoded(h.encode()).header
    assert got.alpn == b"h2"
    assert got.authority == "example.com"
    assert got.unique_id == b"u" * 128
    assert got.netns == "blue"
    assert got.custom_tlvs == (Tlv(0xE1, b"\x00custom"),)
    assert got.ssl == ssl
    parsed = got.ssl
    assert parsed is not None
    assert parsed.is_ssl
    assert (parsed.version, parsed.cn, parsed.cipher) == (
        "TLSv1.3",
        "client.example",
        "TLS_AES_128_GCM_SHA256",
    )
    assert (parsed.sig_alg, parsed.key_alg) == ("RSA-SHA256", "RSA2048")
    assert parsed.tlvs[0].type == SslSubType.VERSION
    assert got.crc32c is not None
    assert got.encode() == h.encode()
    assert got.tlv(0x99) is None


def test_crc32c_is_computed_and_verified() -> None:
    h = ProxyHeader(source=V4_SRC, destination=V4_DST, tlvs=(Tlv.crc32c(), Tlv.alpn("h2")))
    wire = bytearray(h.encode())
    at = 16 + 12 + 3
    value = int.from_bytes(wire[at : at + 4], "big")
    zeroed = wire[:at] + bytes(4) + wire[at + 4 :]
    assert value == crc32c(zeroed) != 0
    assert decoded(bytes(wire)).header.crc32c == value
    wire[-1] ^= 0x01  # flip a bit in the ALPN value
    with pytest.raises(ProxyHeaderError, match="CRC32C"):
        decode_header(bytes(wire))


def test_header_model_refuses_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ConfigError):
        ProxyHeader(source=V4_SRC, destination=None)
    with pytest.raises(ConfigError):
        ProxyHeader(source=V4_SRC, destination=V6_DST)
    with pytest.raises(ConfigError):
        ProxyHeader(version=ProxyVersion.V1, command=ProxyCommand.LOCAL)
    with pytest.raises(ConfigError):
        ProxyHeader(version=ProxyVersion.V1, tlvs=(Tlv.alpn("h2"),))
    with pytest.raises(ConfigError):
        ProxyHeader(version=ProxyVersion.V1, source=b"/a", destination=b"/b")
    with pytest.raises(ConfigError):
        ProxyHeader(source=V4_SRC, destination=V4_DST, transport=ProxyTransport.UNSPEC)
    with pytest.raises(ConfigError):
        ProxyHeader(transport=ProxyTransport.STREAM)
    with pytest.raises(ConfigError):
        ProxyHeader(source=b"x" * 109, destination=b"y")
    with pytest.raises(ConfigError):
        ProxyHeader(source=b"x\x00", destination=b"y")
    with pytest.raises(ConfigError):
        ProxyHeader(
            source=SocketAddress(IPv6Address("fe80::1%eth0"), 1),
            destination=SocketAddress(IPv6Address("fe80::2"), 2),
        )
    with pytest.raises(ConfigError):
        ProxyHeader(tlvs=(Tlv.crc32c(), Tlv.crc32c()))
    with pytest.raises(ConfigError):
        Tlv.unique_id(b"u" * 129)
    with pytest.raises(ConfigError):
        Tlv.custom(0xF0, b"")
    with pytest.raises(ConfigError):
        Tlv(256, b"")
    with pytest.raises(ConfigError):
        SslTlv.from_tlv(Tlv.alpn("h2"))


def test_errors_share_one_root() -> None:
    assert issubclass(ProxyHeaderError, HaProxyError)
    assert issubclass(HaProxyError, PyramaError)
    assert issubclass(ProxyHeaderMissingError, ProxyHeaderError)


def test_unique_id_limit_on_the_wire() -> None:
    wire = V2_SIGNATURE + b"\x21\x00\x00\x84" + b"\x05\x00\x81" + b"u" * 129
    with pytest.raises(ProxyHeaderError, match="UNIQUE_ID"):
        decode_header(wire)


# -- properties --------------------------------------------------------------------------------

ipv4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
ipv6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
ports = st.integers(0, 65535)
unix_paths = st.binary(max_size=108).filter(lambda p: not p.endswith(b"\x00"))


def _pair(
    ips: st.SearchStrategy[IPv4Address] | st.SearchStrategy[IPv6Address],
) -> st.SearchStrategy[tuple[SocketAddress, SocketAddress]]:
    return st.tuples(st.builds(SocketAddress, ips, ports), st.builds(SocketAddress, ips, ports))


addr_pairs = st.one_of(
    st.just((None, None)), _pair(ipv4), _pair(ipv6), st.tuples(unix_paths, unix_paths)
)

simple_tlvs = st.one_of(
    st.builds(Tlv.alpn, st.binary(max_size=20)),
    st.builds(Tlv.authority, st.text(max_size=20)),
    st.builds(Tlv.unique_id, st.binary(max_size=128)),
    st.builds(Tlv.noop, st.integers(0, 8)),
    st.builds(Tlv.netns, st.text(alphabet=st.characters(max_codepoint=127), max_size=10)),
    st.builds(Tlv.custom, st.integers(0xE0, 0xEF), st.binary(max_size=20)),
    st.builds(Tlv, st.sampled_from([0x00, 0x06, 0x7F, 0xF0, 0xFF]), st.binary(max_size=20)),
    st.builds(
        lambda flags, verify, names: SslTlv.build(
            client=flags, verify=verify, version=names[0], cn=names[1], cipher=names[2]
        ).to_tlv(),
        st.integers(0, 7),
        st.integers(0, 2**32 - 1),
        st.tuples(*(st.none() | st.text(max_size=12) for _ in range(3))),
    ),
)


@st.composite
def headers(draw: st.DrawFn) -> ProxyHeader:
    version = draw(st.sampled_from(ProxyVersion))
    if version is ProxyVersion.V1:
        src, dst = draw(st.one_of(st.just((None, None)), _pair(ipv4), _pair(ipv6)))
        return ProxyHeader(version=version, source=src, destination=dst)
    src, dst = draw(addr_pairs)
    transport = (
        ProxyTransport.UNSPEC
        if src is None
        else draw(st.sampled_from([ProxyTransport.STREAM, ProxyTransport.DGRAM]))
    )
    tlvs = draw(st.lists(simple_tlvs, max_size=6))
    if draw(st.booleans()):
        tlvs.insert(draw(st.integers(0, len(tlvs))), Tlv.crc32c())
    return ProxyHeader(
        command=draw(st.sampled_from(ProxyCommand)),
        source=src,
        destination=dst,
        transport=transport,
        tlvs=tuple(tlvs),
    )


def _without_crc(h: ProxyHeader) -> ProxyHeader:
    return ProxyHeader(
        version=h.version,
        command=h.command,
        source=h.source,
        destination=h.destination,
        transport=h.transport,
        tlvs=tuple(t if t.type != TlvType.CRC32C else Tlv.crc32c() for t in h.tlvs),
    )


@settings(max_examples=300)
@given(headers(), st.binary(max_size=16))
def test_round_trip_every_shape(h: ProxyHeader, payload: bytes) -> None:
    wire = h.encode()
    res = decoded(wire + payload, max_v2_payload=MAX_V2_PAYLOAD_LENGTH)
    assert res.consumed == len(wire)
    assert _without_crc(res.header) == _without_crc(h)
    assert res.header.encode() == wire
    for cut in {0, len(wire) // 2, len(wire) - 1}:
        assert isinstance(decode_header(wire[:cut], max_v2_payload=MAX_V2_PAYLOAD_LENGTH), NeedMore)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_our_error(data: bytes) -> None:
    with contextlib.suppress(ProxyHeaderError):
        decode_header(data)
    detect_header(data)


_prefixes = st.sampled_from(
    [b"PROXY ", b"PROXY TCP4 ", b"PROXY TCP6 ", b"PROXY UNKNOWN", V2_SIGNATURE]
)


@settings(max_examples=500)
@given(_prefixes, st.binary(max_size=250))
def test_arbitrary_bytes_after_a_signature_only_raise_our_error(prefix: bytes, rest: bytes) -> None:
    try:
        res = decode_header(prefix + rest)
    except ProxyHeaderError:
        return
    if isinstance(res, Decoded):
        assert 0 < res.consumed <= len(prefix + rest)
        # whatever decoded also encodes (a v1 UNKNOWN line may lose its ignored tail)
        assert decoded(res.header.encode()).header.encode() == res.header.encode()


@settings(max_examples=300)
@given(headers(), st.integers(0, 400), st.integers(0, 255))
def test_mutated_headers_only_raise_our_error(h: ProxyHeader, pos: int, byte: int) -> None:
    wire = bytearray(h.encode())
    wire[pos % len(wire)] = byte
    with contextlib.suppress(ProxyHeaderError):
        decode_header(bytes(wire), max_v2_payload=MAX_V2_PAYLOAD_LENGTH)
