from ipaddress import IPv4Address, IPv6Address

import pytest

from pyrama_net import Authority, Domain, Host
from pyrama_net.errors import AddressError


def test_ipv6_with_and_without_brackets() -> None:
    a = Host.parse("[::1]")
    b = Host.parse("::1")
    assert a == b
    assert a.ip == IPv6Address("::1")
    assert str(a) == "::1"
    assert a.to_uri_str() == "[::1]"
    assert a.is_ip
    assert a.is_ipv6
    assert not a.is_ipv4
    assert not a.is_domain
    assert a.domain is None


def test_ipv6_is_canonicalised() -> None:
    h = Host.parse("[2001:DB8:0:0:0:0:0:1]")
    assert str(h) == "2001:db8::1"


def test_ipv4() -> None:
    h = Host.parse("192.0.2.7")
    assert h.ip == IPv4Address("192.0.2.7")
    assert str(h) == h.to_uri_str() == "192.0.2.7"
    assert h.is_ipv4
    assert not h.is_ipv6


def test_domain() -> None:
    h = Host.parse("Example.COM")
    assert h.domain == Domain("example.com")
    assert h.ip is None
    assert h.is_domain
    assert not h.is_ip
    assert str(h) == h.to_uri_str() == "example.com"


def test_ipv6_zone() -> None:
    bare = Host.parse("fe80::1%eth0")
    uri = Host.parse("[fe80::1%25eth0]")
    assert bare == uri
    assert str(bare) == "fe80::1%eth0"
    assert bare.to_uri_str() == "[fe80::1%25eth0]"
    assert Host.parse(bare.to_uri_str()) == bare
    assert bare != Host.parse("fe80::1")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[::1",
        "::1]",
        "[]",
        "[127.0.0.1]",
        "[fe80::1%eth0]",  # RFC 6874: %25 in brackets
        "[fe80::1%25]",
        "fe80::1%",
        "fe80::1%et h0",
        "fe80::1%eth/0",
        "1::2::3",
        "01.2.3.4",
        "1.2.3",
        "1.2.3.4.",
        "256.0.0.1",
        "exa mple.com",
        "[::1]:80",
        "example.com:80",
        "::\uff46",  # full-width f
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(AddressError, match="invalid host"):
        Host.parse(text)


def test_constructor_checks_types_and_zones() -> None:
    with pytest.raises(AddressError):
        Host("example.com")  # type: ignore[arg-type]
    with pytest.raises(AddressError, match="zone"):
        Host(IPv6Address("fe80::1%a b"))


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("localhost.example.com", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("example.com", False),
    ],
)
def test_is_loopback(text: str, loopback: bool) -> None:
    assert Host.parse(text).is_loopback is loopback


def test_usable_as_dict_key() -> None:
    d = {Host.parse("example.com"): 1, Host.parse("::1"): 2}
    assert d[Host.parse("EXAMPLE.com")] == 1
    assert d[Host.parse("[::1]")] == 2
    assert Authority(Host.parse("::1"), 1).host in d
