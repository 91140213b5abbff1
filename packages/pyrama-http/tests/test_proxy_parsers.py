"""Property and table tests of the proxy's parsers: hop-by-hop fields, NO_PROXY, env, CONNECT."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core.errors import ConfigError
from pyrama_http import NoProxy, ProxyConfig
from pyrama_http.proxy import (
    HOP_BY_HOP_HEADERS,
    ConnectTargetError,
    TunnelTarget,
    connect_authority,
    strip_hop_by_hop,
    via_value,
)
from pyrama_http_types import HeaderMap, Request, Version
from pyrama_net import ProxyAddress

_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=12,
)
_NAMES = st.one_of(
    _TOKEN,
    st.sampled_from(
        ["Connection", "keep-alive", "TE", "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
         "Proxy-Connection", "Trailer", "Proxy-Authenticate", "Host", "Content-Length", "X-A"]
    ),
)  # fmt: skip
_VALUES = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,-AXHC0123", max_size=30),
    st.sampled_from(["close", "X-A, keep-alive", "Host, Content-Length", "trailers"]),
)


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=12))
def test_strip_keeps_end_to_end_fields_in_order(fields: list[tuple[str, str]]) -> None:
    headers = HeaderMap([(n, v.strip()) for n, v in fields])
    nominated = set()
    for name, value in headers.lower_items():
        if name in (b"connection", b"proxy-connection"):
            nominated |= {t.strip().lower() for t in value.split(b",") if t.strip()}
    nominated -= {b"host", b"content-length", b"content-type"}
    out = strip_hop_by_hop(headers)
    expected = [
        (n, v)
        for n, v in headers.raw_items()
        if n.lower() not in HOP_BY_HOP_HEADERS and n.lower() not in nominated
    ]
    assert out.raw_items() == expected
    assert not any(n in HOP_BY_HOP_HEADERS for n, _ in out.lower_items())
    assert headers.raw_items() == [(n.encode(), v.strip().encode()) for n, v in fields]  # untouched


def test_strip_table() -> None:
    h = HeaderMap(
        [("Host", "a"), ("Connection", "close, X-Hop, host"), ("X-Hop", "1"), ("TE", "trailers"),
         ("X-Keep", "2"), ("Upgrade", "websocket")]
    )  # fmt: skip
    assert strip_hop_by_hop(h).raw_items() == [(b"Host", b"a"), (b"X-Keep", b"2")]
    assert strip_hop_by_hop(h, keep_te_trailers=True).raw_items() == [
        (b"Host", b"a"),
        (b"TE", b"trailers"),
        (b"X-Keep", b"2"),
    ]
    assert via_value(Version.HTTP_2, "p") == b"2 p"
    assert via_value(Version.HTTP_11, "p") == b"1.1 p"


# -- NO_PROXY -------------------------------------------------------------------------------

_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_TLD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
# a name, never an IP address: "0.0.0.0" is an address, and "0.0.0.0.0" no subdomain of it
_DOMAIN = st.tuples(st.lists(_LABEL, max_size=3), _TLD).map(lambda p: ".".join([*p[0], p[1]]))


@given(_DOMAIN, _LABEL, st.booleans())
def test_no_proxy_domain_matches_itself_and_subdomains(domain: str, sub: str, dot: bool) -> None:
    np = NoProxy.parse(("." if dot else "") + domain.upper())
    assert np.matches(domain)
    assert np.matches(f"{sub}.{domain}")
    assert np.matches(f"{sub}.{domain}.")  # a trailing dot is the same name
    assert not np.matches(f"{sub}{domain}x")


@given(st.text(max_size=80), st.text(max_size=40), st.integers(0, 65535))
def test_no_proxy_never_raises(text: str, host: str, port: int) -> None:
    NoProxy.parse(text).matches(host, port)


def test_no_proxy_table() -> None:
    np = NoProxy.parse("localhost, .internal ,10.0.0.0/8,[::1],example.com:8080")
    assert np.matches("localhost")
    assert np.matches("a.b.internal")
    assert np.matches("internal")
    assert not np.matches("notinternal")
    assert np.matches("10.1.2.3")
    assert not np.matches("11.1.2.3")
    assert np.matches("::1")
    assert np.matches("[::1]")
    assert np.matches("example.com", 8080)
    assert not np.matches("example.com", 443)
    assert not np.matches("example.org")
    assert NoProxy.parse("*").matches("anything")
    assert not NoProxy.parse("")
    assert not NoProxy.parse("bad host!,").matches("bad host!")


def test_no_proxy_entry_limit() -> None:
    np = NoProxy([f"h{i}.test" for i in range(2000)])
    assert np.matches("h1023.test")
    assert not np.matches("h1024.test")  # at most 1024 entries are kept


def test_proxy_config_from_env() -> None:
    env = {
        "http_proxy": "http://lower:3128",
        "HTTP_PROXY": "http://upper:3128",
        "HTTPS_PROXY": "socks5h://u:p@socks:1080",
        "no_proxy": "local.test",
    }
    cfg = ProxyConfig.from_env(env)
    assert cfg.select("http", "a.test", 80) == ProxyAddress.parse("http://lower:3128")
    assert cfg.select("https", "a.test", 443) == ProxyAddress.parse("socks5h://u:p@socks:1080")
    assert cfg.select("https", "x.local.test", 443) is None
    # CGI: HTTP_PROXY could come from a request header; only the lowercase name counts
    cgi = ProxyConfig.from_env({"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"})
    assert cgi.select("http", "a", 80) is None
    both = ProxyConfig.from_env({"ALL_PROXY": "127.0.0.1:9", "HTTPS_PROXY": ""})
    assert both.select("http", "a", 80) == both.select("https", "a", 443)
    assert both.select("http", "a", 80) == ProxyAddress.parse("http://127.0.0.1:9")
    assert ProxyConfig.from_env({}).is_empty
    assert ProxyConfig.from_env({"http_proxy": "http://p:1", "NO_PROXY": "*"}).is_empty
    with pytest.raises(ConfigError, match="HTTPS_PROXY"):
        ProxyConfig.from_env({"HTTPS_PROXY": "http://[oops"})
    assert "lower" in repr(cfg)
    assert "p@" not in repr(cfg)


# -- CONNECT targets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("example.com:443", True),
        ("[::1]:8443", True),
        ("127.0.0.1:1", True),
        ("example.com:0", False),
        ("/", False),
        ("http://example.com:443/", False),
    ],
)
def test_connect_authority(target: str, ok: bool) -> None:
    req = Request("CONNECT", target)
    if ok:
        assert str(connect_authority(req)) == target
    else:
        with pytest.raises(ConnectTargetError):
            connect_authority(req)
    with pytest.raises(ConnectTargetError):
        connect_authority(Request("GET", "/"))


@pytest.mark.parametrize(
    ("target", "host", "port"),
    [
        ("127.0.0.1:8443", "127.0.0.1", 8443),
        ("10.1.2.3:1", "10.1.2.3", 1),
        ("[::1]:443", "::1", 443),
        ("[2001:db8::1]:80", "2001:db8::1", 80),
        ("example.com:443", "example.com", 443),
    ],
)
def test_tunnel_target_host_is_bare(target: str, host: str, port: int) -> None:
    req = Request("CONNECT", target)
    t = TunnelTarget.for_request(req, connect_authority(req))
    assert (t.host, t.port, t.proxy) == (host, port, None)
    assert t.authority == target
