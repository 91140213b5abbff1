import asyncio
import socket
from ipaddress import IPv4Address, IPv6Address

import pytest

from pyrama_net import Authority, Host, SocketAddress, SocketInfo, open_socket_stream
from pyrama_net.errors import AddressError


def test_parse() -> None:
    a = SocketAddress.parse("127.0.0.1:80")
    assert a.ip == IPv4Address("127.0.0.1")
    assert a.port == 80
    assert str(a) == "127.0.0.1:80"
    b = SocketAddress.parse("[::1]:443")
    assert b.ip == IPv6Address("::1")
    assert str(b) == "[::1]:443"
    assert b.is_ipv6
    assert not b.is_ipv4
    assert b.family == socket.AF_INET6
    assert a.family == socket.AF_INET


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("example.com:80", "not a domain"),
        ("127.0.0.1", "missing"),
        ("[::1]", "missing"),
        ("::1:443", "brackets"),
        ("[::1:443", "closing"),
        ("127.0.0.1:65536", "out of range"),
        ("127.0.0.1:", "empty"),
        ("1.2.3:80", "IPv4"),
        ("", "empty"),
    ],
)
def test_rejects(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        SocketAddress.parse(text)


def test_constructors() -> None:
    assert str(SocketAddress.local_ipv4(8080)) == "127.0.0.1:8080"
    assert str(SocketAddress.local_ipv6(8080)) == "[::1]:8080"
    assert str(SocketAddress.any_ipv4(0)) == "0.0.0.0:0"
    assert str(SocketAddress.any_ipv6(1)) == "[::]:1"
    with pytest.raises(AddressError):
        SocketAddress.local_ipv4(65536)
    with pytest.raises(AddressError):
        SocketAddress("127.0.0.1", 80)  # type: ignore[arg-type]


def test_conversions() -> None:
    a = SocketAddress.parse("[::1]:443")
    assert a.host == Host.parse("::1")
    assert a.to_authority() == Authority.parse("[::1]:443")


def test_to_tuple() -> None:
    assert SocketAddress.parse("127.0.0.1:80").to_tuple() == ("127.0.0.1", 80)
    assert SocketAddress.parse("[::1]:80").to_tuple() == ("::1", 80, 0, 0)
    assert SocketAddress.parse("[fe80::1%253]:80").to_tuple() == ("fe80::1", 80, 0, 3)
    lo = socket.if_nameindex()[0]
    named = SocketAddress(IPv6Address(f"fe80::1%{lo[1]}"), 80)
    assert named.to_tuple() == ("fe80::1", 80, 0, lo[0])
    with pytest.raises(AddressError, match="interface"):
        SocketAddress(IPv6Address("fe80::1%no-such-if0"), 80).to_tuple()


def test_from_tuple() -> None:
    assert SocketAddress.from_tuple(("127.0.0.1", 80)) == SocketAddress.local_ipv4(80)
    assert SocketAddress.from_tuple(("::1", 80, 0, 0)) == SocketAddress.local_ipv6(80)
    assert SocketAddress.from_tuple(("::1", 80)) == SocketAddress.local_ipv6(80)
    scoped = SocketAddress.from_tuple(("fe80::1", 80, 0, 3))
    assert str(scoped) == "[fe80::1%253]:80"
    assert scoped.to_tuple() == ("fe80::1", 80, 0, 3)
    # a zone already in the host string wins over the index
    assert str(SocketAddress.from_tuple(("fe80::1%lo", 80, 0, 1)).ip) == "fe80::1%lo"


@pytest.mark.parametrize(
    "sockaddr",
    [
        "/tmp/sock",
        b"\0abstract",
        ("127.0.0.1",),
        ("127.0.0.1", 80, 0),
        ("example.com", 80),
        ("127.0.0.1", 65536),
        ("127.0.0.1", "80"),
        (b"127.0.0.1", 80),
        ("127.0.0.1", 80, 0, 0),
        ("::1", 80, 0, -1),
        None,
    ],
)
def test_from_tuple_rejects(sockaddr: object) -> None:
    with pytest.raises(AddressError):
        SocketAddress.from_tuple(sockaddr)


def test_from_tuple_round_trips_real_sockets() -> None:
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            addr = SocketAddress.from_tuple(s.getsockname())
            assert str(addr.ip) == host
            assert addr.port == s.getsockname()[1]
            assert addr.to_tuple()[:2] == s.getsockname()[:2]


def test_to_tuple_is_accepted_by_bind() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(SocketAddress.local_ipv6(0).to_tuple())
        assert SocketAddress.from_tuple(s.getsockname()).ip == IPv6Address("::1")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(SocketAddress.local_ipv4(0).to_tuple())
        assert SocketAddress.from_tuple(s.getsockname()).ip == IPv4Address("127.0.0.1")


def test_socket_info_addresses_unix_paths_are_none() -> None:
    info = SocketInfo(local="/tmp/x.sock", peer="", family=socket.AF_UNIX)
    assert info.local_address is None
    assert info.peer_address is None
    info = SocketInfo(local=("127.0.0.1", 1), peer=("::1", 2, 0, 0), family=socket.AF_INET6)
    assert info.local_address == SocketAddress.local_ipv4(1)
    assert info.peer_address == SocketAddress.local_ipv6(2)


async def test_socket_info_addresses_on_a_real_stream() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        accepted, _ = server.accept()
        stream = await open_socket_stream(client)
        try:
            info = stream.extensions.get(SocketInfo)
            assert info is not None
            assert info.peer_address == SocketAddress.local_ipv4(port)
            local = info.local_address
            assert local is not None
            assert local.ip == IPv4Address("127.0.0.1")
            assert local.port == accepted.getpeername()[1]
        finally:
            await asyncio.wait_for(stream.close(), 10)
            accepted.close()
    finally:
        server.close()
