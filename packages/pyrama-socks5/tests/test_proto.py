"""Sans-IO SOCKS5 messages: exact bytes, need-more, round trips and fuzzing."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core.errors import ProtocolError
from pyrama_net import Authority, Basic, Domain, Host
from pyrama_socks5 import (
    AuthMethod,
    ClientGreeting,
    Command,
    MethodSelection,
    Reply,
    ReplyCode,
    Request,
    UdpPacket,
    UsernamePasswordRequest,
    UsernamePasswordResponse,
    decode_address,
    encode_address,
    reply_code_name,
)
from pyrama_socks5.errors import Socks5ProtocolError, Socks5ReplyError


def auth(text: str) -> Authority:
    return Authority.parse(text)


# -- exact bytes (RFC 1928 / RFC 1929 examples) -----------------------------------------------


def test_greeting_bytes() -> None:
    g = ClientGreeting((AuthMethod.NO_AUTH, AuthMethod.USERNAME_PASSWORD))
    assert g.encode() == b"\x05\x02\x00\x02"
    assert ClientGreeting.decode(b"\x05\x02\x00\x02rest") == (g, 4)


def test_selection_and_auth_bytes() -> None:
    assert MethodSelection(0xFF).encode() == b"\x05\xff"
    req = UsernamePasswordRequest(b"john", b"secret")
    assert req.encode() == b"\x01\x04john\x06secret"
    assert UsernamePasswordRequest.decode(b"\x01\x04john\x06secret") == (req, 13)
    assert "secret" not in repr(req)
    assert UsernamePasswordResponse.decode(b"\x01\x00") == (UsernamePasswordResponse(0), 2)
    assert not UsernamePasswordResponse(1).success
    assert req.to_basic() == Basic("john", "secret")
    assert UsernamePasswordRequest.from_basic(Basic("jö", "p")).username == "jö".encode()


def test_request_bytes_each_address_type() -> None:
    assert Request(Command.CONNECT, auth("127.0.0.1:80")).encode() == (
        b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"
    )
    assert Request(Command.CONNECT, auth("example.com:443")).encode() == (
        b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"
    )
    v6 = Request(Command.BIND, auth("[::1]:8080")).encode()
    assert v6 == b"\x05\x02\x00\x04" + IPv6Address("::1").packed + b"\x1f\x90"
    assert Request.decode(v6) == (Request(Command.BIND, auth("[::1]:8080")), len(v6))


def test_reply_bytes_and_default_bound() -> None:
    r = Reply(ReplyCode.COMMAND_NOT_SUPPORTED)
    assert r.encode() == b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00"
    assert not r.success
    assert Reply.decode(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38") == (
        Reply(0, auth("127.0.0.1:1080")),
        10,
    )


def test_udp_packet_bytes() -> None:
    p = UdpPacket(auth("10.0.0.1:53"), b"query")
    assert p.encode() == b"\x00\x00\x00\x01\x0a\x00\x00\x01\x00\x35query"
    assert UdpPacket.decode(p.encode()) == p
    frag = UdpPacket.decode(b"\x00\x00\x01\x01\x0a\x00\x00\x01\x00\x35x")
    assert frag.frag == 1


def test_domain_that_is_an_ip_literal_becomes_an_ip() -> None:
    with pytest.raises(Socks5ProtocolError):
        decode_address(b"\x03\x07a..b.cd\x00\x01")
    got = decode_address(b"\x03\x071.2.3.4\x00\x01")
    assert got == (Authority(Host(IPv4Address("1.2.3.4")), 1), 11)


def test_udp_associate_hint_domain_is_lenient() -> None:
    # PySocks sends the name "0" as the client address of a UDP ASSOCIATE
    data = b"\x05\x03\x00\x03\x010\x12\x34"
    assert Request.decode(data) == (Request(Command.UDP_ASSOCIATE, auth("0.0.0.0:4660")), 8)
    with pytest.raises(Socks5ProtocolError):
        Request.decode(b"\x05\x01\x00\x03\x010\x12\x34")


def test_ipv6_zone_is_dropped_on_encode() -> None:
    zoned = Authority(Host(IPv6Address("fe80::1%3")), 9)
    assert encode_address(zoned) == b"\x04" + IPv6Address("fe80::1").packed + b"\x00\x09"


# -- errors carry the reply code as the wire hint ------------------------------------------------


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b"\x05\x09\x00\x01\x00\x00\x00\x00\x00\x00", ReplyCode.COMMAND_NOT_SUPPORTED),
        (b"\x05\x01\x00\x02\x00\x00\x00\x00\x00\x00", ReplyCode.ADDRESS_TYPE_NOT_SUPPORTED),
        (b"\x05\x01\x07\x01\x00\x00\x00\x00\x00\x00", ReplyCode.GENERAL_FAILURE),
        (b"\x05\x01\x00\x03\x00\x00\x50", ReplyCode.HOST_UNREACHABLE),
        (b"\x05\x01\x00\x03\x02\xff\xfe\x00\x50", ReplyCode.HOST_UNREACHABLE),
        (b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00", None),
    ],
)
def test_request_errors_have_hints(data: bytes, hint: int | None) -> None:
    with pytest.raises(Socks5ProtocolError) as info:
        Request.decode(data)
    assert isinstance(info.value, ProtocolError)
    assert info.value.hint == hint


def test_greeting_without_methods_is_refused() -> None:
    with pytest.raises(Socks5ProtocolError):
        ClientGreeting.decode(b"\x05\x00")
    with pytest.raises(Socks5ProtocolError):
        ClientGreeting(())
    with pytest.raises(Socks5ProtocolError):
        ClientGreeting(tuple([0] * 256))


def test_field_limits() -> None:
    UsernamePasswordRequest(b"u" * 255, b"p" * 255)
    with pytest.raises(Socks5ProtocolError):
        UsernamePasswordRequest(b"u" * 256, b"")
    with pytest.raises(Socks5ProtocolError):
        UsernamePasswordRequest(b"u", b"p" * 256)
    with pytest.raises(Socks5ProtocolError):
        Reply(256)
    with pytest.raises(Socks5ProtocolError):
        UdpPacket(auth("1.2.3.4:5"), frag=300)


def test_non_basic_credentials_are_a_protocol_error() -> None:
    with pytest.raises(Socks5ProtocolError):
        UsernamePasswordRequest(b"a:b", b"x").to_basic()
    with pytest.raises(Socks5ProtocolError):
        UsernamePasswordRequest(b"\xff", b"x").to_basic()


def test_short_udp_datagrams_raise() -> None:
    for data in (b"", b"\x00\x00\x00", b"\x00\x00\x00\x01\x7f", b"\x01\x00\x00\x01" + bytes(6)):
        with pytest.raises(Socks5ProtocolError):
            UdpPacket.decode(data)


def test_reply_error_names_the_code() -> None:
    err = Socks5ReplyError(5)
    assert err.reply is ReplyCode.CONNECTION_REFUSED
    assert "connection refused" in str(err)
    assert Socks5ReplyError(0x42).reply is None
    assert reply_code_name(0x42) == "unassigned"


# -- property tests -------------------------------------------------------------------------------

label = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
domains = st.lists(label, min_size=2, max_size=4).map(lambda ls: Domain.parse(".".join(ls)))
hosts = st.one_of(
    st.builds(IPv4Address, st.integers(0, 2**32 - 1)).map(Host),
    st.builds(IPv6Address, st.integers(0, 2**128 - 1)).map(Host),
    domains.map(Host),
)
authorities = st.builds(Authority, hosts, st.integers(0, 65535))
byte = st.integers(0, 255)
field = st.binary(max_size=255)

messages: st.SearchStrategy[Any] = st.one_of(
    st.lists(byte, min_size=1, max_size=255).map(lambda m: ClientGreeting(tuple(m))),
    st.builds(MethodSelection, byte),
    st.builds(UsernamePasswordRequest, field, field),
    st.builds(UsernamePasswordResponse, byte),
    st.builds(Request, st.sampled_from(Command), authorities),
    st.builds(Reply, byte, authorities),
)


@given(messages, st.binary(max_size=8))
def test_round_trip_and_need_more(msg: Any, trailer: bytes) -> None:
    wire = msg.encode()
    decode: Callable[[bytes], Any] = type(msg).decode
    assert decode(wire + trailer) == (msg, len(wire))
    for cut in range(len(wire)):
        assert decode(wire[:cut]) is None


@given(authorities, st.binary(max_size=64), byte)
def test_udp_round_trip(dest: Authority, data: bytes, frag: int) -> None:
    p = UdpPacket(dest, data, frag)
    assert UdpPacket.decode(p.encode()) == p


decoders: list[Callable[[bytes], Any]] = [
    ClientGreeting.decode,
    MethodSelection.decode,
    UsernamePasswordRequest.decode,
    UsernamePasswordResponse.decode,
    Request.decode,
    Reply.decode,
    UdpPacket.decode,
    decode_address,
]


@given(st.sampled_from(decoders), st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_protocol_error(
    decode: Callable[[bytes], Any], data: bytes
) -> None:
    error: Socks5ProtocolError | None = None
    try:
        got = decode(data)
    except Socks5ProtocolError as exc:
        error = exc
    if error is not None:
        assert isinstance(error, ProtocolError)
        assert error.hint is None or 0 < error.hint <= 8
        return
    if isinstance(got, tuple):
        msg, n = got
        assert 0 < n <= len(data)
        if hasattr(msg, "encode") and not isinstance(msg, UdpPacket):
            # decoding is canonical except for the domain text of a name (case, IP literals)
            assert type(msg).decode(msg.encode())[0] == msg
