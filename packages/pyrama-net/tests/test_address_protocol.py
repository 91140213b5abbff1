import pytest

from pyrama_net import Protocol
from pyrama_net.errors import AddressError


@pytest.mark.parametrize(
    ("scheme", "port", "secure", "http", "ws", "socks5"),
    [
        ("http", 80, False, True, False, False),
        ("https", 443, True, True, False, False),
        ("ws", 80, False, False, True, False),
        ("wss", 443, True, False, True, False),
        ("socks5", 1080, False, False, False, True),
        ("socks5h", 1080, False, False, False, True),
        ("ftp", None, False, False, False, False),
        ("coap+tcp", None, False, False, False, False),
    ],
)
def test_known_and_custom(
    scheme: str, port: int | None, secure: bool, http: bool, ws: bool, socks5: bool
) -> None:
    p = Protocol.parse(scheme.upper())
    assert p.scheme == scheme
    assert str(p) == scheme
    assert p.default_port == port
    assert p.is_secure is secure
    assert p.is_http is http
    assert p.is_ws is ws
    assert p.is_socks5 is socks5


def test_constants() -> None:
    assert Protocol("HTTP") == Protocol.HTTP
    assert Protocol.HTTPS.scheme == "https"
    assert Protocol.WS.scheme == "ws"
    assert Protocol.WSS.scheme == "wss"
    assert Protocol.SOCKS5.scheme == "socks5"
    assert Protocol.SOCKS5H.scheme == "socks5h"
    assert Protocol.SOCKS5 != Protocol.SOCKS5H
    assert {Protocol.HTTP, Protocol("http")} == {Protocol.HTTP}


@pytest.mark.parametrize(
    "text", ["", "1http", "+x", "ht tp", "http:", "http://", "htt\u0440", "a_b", "\x00"]
)
def test_rejects(text: str) -> None:
    with pytest.raises(AddressError, match="invalid scheme"):
        Protocol.parse(text)


def test_frozen() -> None:
    with pytest.raises(AttributeError):
        Protocol.HTTP.scheme = "https"  # type: ignore[misc]
