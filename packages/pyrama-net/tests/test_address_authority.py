import pytest

from pyrama_net import Authority, Domain, Host
from pyrama_net.errors import AddressError


def test_parse_domain_and_ipv6() -> None:
    a = Authority.parse("Example.com:443")
    assert a.host == Host(Domain("example.com"))
    assert a.port == 443
    assert str(a) == "example.com:443"
    b = Authority.parse("[::1]:8080")
    assert str(b.host) == "::1"
    assert b.port == 8080
    assert str(b) == "[::1]:8080"
    assert str(Authority.parse("127.0.0.1:0")) == "127.0.0.1:0"


def test_port_bounds() -> None:
    assert Authority.parse("h:0").port == 0
    assert Authority.parse("h:65535").port == 65535
    with pytest.raises(AddressError, match="out of range"):
        Authority.parse("h:65536")
    with pytest.raises(AddressError, match="1 to 5"):
        Authority.parse("h:100000")
    with pytest.raises(AddressError, match="out of range"):
        Authority(Host.parse("h"), 65536)
    with pytest.raises(AddressError, match="out of range"):
        Authority(Host.parse("h"), -1)
    with pytest.raises(AddressError, match="int"):
        Authority(Host.parse("h"), True)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("::1:80", "brackets"),
        ("::1", "brackets"),
        ("[::1", "closing"),
        ("[::1]80", "after"),
        ("[::1]:", "empty"),
        ("example.com", "missing"),
        ("example.com:", "empty"),
        ("example.com:+80", "digits"),
        ("example.com:-1", "digits"),
        ("example.com: 80", "digits"),
        ("example.com:80 ", "digits"),
        ("example.com:0x50", "digits"),
        ("example.com:٨٠", "digits"),  # Arabic-Indic digits
        ("example.com:080", "leading zero"),
        ("example.com:65536", "out of range"),
        (":80", "empty"),
        ("exa mple.com:80", "' '"),
        ("user@example.com:80", "'@'"),
        ("http://example.com:80", "brackets"),
    ],
)
def test_rejects(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        Authority.parse(text)


def test_parse_with_default() -> None:
    assert Authority.parse_with_default("example.com", 80) == Authority.parse("example.com:80")
    assert Authority.parse_with_default("example.com:8080", 80).port == 8080
    assert Authority.parse_with_default("[::1]", 443) == Authority.parse("[::1]:443")
    with pytest.raises(AddressError, match="empty"):
        Authority.parse_with_default("example.com:", 80)
    with pytest.raises(AddressError, match="brackets"):
        Authority.parse_with_default("::1", 80)
    with pytest.raises(AddressError, match="out of range"):
        Authority.parse_with_default("example.com", 70000)


def test_constructor_checks_host_type() -> None:
    with pytest.raises(AddressError, match="Host"):
        Authority("example.com", 80)  # type: ignore[arg-type]


def test_equality_and_hash() -> None:
    assert Authority.parse("EXAMPLE.com:80") == Authority.parse("example.com.:80")
    assert len({Authority.parse("a.b:1"), Authority.parse("A.B:1"), Authority.parse("a.b:2")}) == 2
