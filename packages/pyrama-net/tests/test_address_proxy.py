import pytest

from pyrama_net import Authority, Basic, Protocol, ProxyAddress
from pyrama_net.errors import AddressError


def test_socks5h_with_credentials() -> None:
    p = ProxyAddress.parse("socks5h://user:pass@host:1080")
    assert p.protocol == Protocol.SOCKS5H
    assert p.authority == Authority.parse("host:1080")
    assert p.credential == Basic("user", "pass")
    assert str(p) == "socks5h://user:pass@host:1080"


def test_http_without_credentials() -> None:
    p = ProxyAddress.parse("http://proxy:3128")
    assert p.protocol == Protocol.HTTP
    assert p.credential is None
    assert str(p) == "http://proxy:3128"


def test_default_scheme_is_http() -> None:
    p = ProxyAddress.parse("127.0.0.1:8080")
    assert p.protocol == Protocol.HTTP
    assert str(p) == "http://127.0.0.1:8080"
    assert ProxyAddress.parse("user:pw@[::1]:3128").credential == Basic("user", "pw")


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("http://proxy", 80),
        ("https://proxy", 443),
        ("socks5://proxy", 1080),
        ("socks5h://proxy/", 1080),
        ("proxy", 80),
        ("ws://[::1]", 80),
        ("wss://proxy", 443),
    ],
)
def test_default_port_by_protocol(text: str, port: int) -> None:
    assert ProxyAddress.parse(text).authority.port == port


def test_scheme_without_default_port_needs_a_port() -> None:
    assert str(ProxyAddress.parse("foo+bar://x:9")) == "foo+bar://x:9"
    with pytest.raises(AddressError, match="no default port"):
        ProxyAddress.parse("ftp://x")


def test_percent_decoding_of_userinfo() -> None:
    p = ProxyAddress.parse("socks5://us%40er:p%3Ass%2F%25w%C3%B6rd:x@h")
    assert p.credential is not None
    assert p.credential.username == "us@er"
    assert p.credential.password == "p:ss/%wörd:x"
    # canonical form encodes what needs it, and reads back equal
    assert str(p) == "socks5://us%40er:p%3Ass%2F%25w%C3%B6rd%3Ax@h:1080"
    assert ProxyAddress.parse(str(p)) == p
    # sub-delims stay raw
    q = ProxyAddress.parse("http://a!$&'()*+,;=b:c~d@h")
    assert q.credential == Basic("a!$&'()*+,;=b", "c~d")
    assert str(q) == "http://a!$&'()*+,;=b:c~d@h:80"


def test_username_only_and_empty_parts() -> None:
    assert ProxyAddress.parse("http://u@h").credential == Basic("u", "")
    assert ProxyAddress.parse("http://u:@h").credential == Basic("u", "")
    assert str(ProxyAddress.parse("http://u:@h")) == "http://u@h:80"
    empty = ProxyAddress.parse("http://:@h")
    assert empty.credential == Basic("", "")
    assert str(empty) == "http://:@h:80"
    assert ProxyAddress.parse(str(empty)) == empty
    assert str(ProxyAddress.parse("http://:pw@h")) == "http://:pw@h:80"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("http://host/path", "path"),
        ("http://host:80/path", "path"),
        ("http://host?q", "path"),
        ("http://host#frag", "path"),
        ("http://host//", "path"),
        ("http://", "empty"),
        ("http://@host", "no credentials"),
        ("http://us er:pw@host", "percent-encoded"),
        ("http://user:p w@host", "percent-encoded"),
        ("http://user:p@w@host", "percent-encoded"),
        ("http://user:pw%2@host", "two hex"),
        ("http://user:pw%zz@host", "two hex"),
        ("http://user:pw%FF@host", "UTF-8"),
        ("http://user:pw%00@host", "control"),
        ("ht tp://host", "scheme"),
        ("://host", "scheme"),
        ("http://host:99999", "out of range|digits"),
        ("http://::1:80", "brackets"),
        ("http://exa mple.com", "' '"),
        ("http:/host", "path"),
        ("http://a@b@host", "percent-encoded"),
    ],
)
def test_rejects(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        ProxyAddress.parse(text)


def test_errors_do_not_leak_the_password() -> None:
    with pytest.raises(AddressError) as info:
        ProxyAddress.parse("http://user:hunter2@host/path")
    assert "hunter2" not in str(info.value)
    with pytest.raises(AddressError) as info:
        ProxyAddress.parse("http://user:hunter2%00@host")
    assert "hunter2" not in str(info.value)


def test_repr_redacts_password() -> None:
    p = ProxyAddress.parse("http://user:hunter2@host")
    assert "hunter2" not in repr(p)
    assert "user" in repr(p)


def test_constructor_checks_types() -> None:
    a = Authority.parse("h:1")
    with pytest.raises(AddressError):
        ProxyAddress("http", a)  # type: ignore[arg-type]
    with pytest.raises(AddressError):
        ProxyAddress(Protocol.HTTP, "h:1")  # type: ignore[arg-type]
    with pytest.raises(AddressError):
        ProxyAddress(Protocol.HTTP, a, "u:p")  # type: ignore[arg-type]
    assert ProxyAddress(Protocol.HTTP, a) == ProxyAddress.parse("h:1")
