from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_types import Uri, UriForm
from pyrama_http_types.errors import InvalidUriError
from pyrama_net import Authority, Host, Protocol


def test_origin_form() -> None:
    u = Uri.parse(b"/a/b?x=1&y=%20")
    assert u.form is UriForm.ORIGIN
    assert u.path == "/a/b"
    assert u.query == "x=1&y=%20"
    assert u.path_and_query == "/a/b?x=1&y=%20"
    assert u.scheme is None
    assert u.host is None
    assert u.port is None
    assert u.authority is None
    assert str(u) == "/a/b?x=1&y=%20"
    assert Uri("/p?").query == ""
    assert Uri("/p").query is None
    assert Uri("//double").path == "//double"


def test_absolute_form() -> None:
    u = Uri.parse("HTTP://User:Pw@Example.COM:8080/p/q?z")
    assert u.form is UriForm.ABSOLUTE
    assert u.scheme == "http"
    assert u.protocol == Protocol.HTTP
    assert u.userinfo == "User:Pw"
    assert u.authority_text == "Example.COM:8080"
    assert u.host == Host.parse("example.com")
    assert u.port == 8080
    assert u.explicit_port == 8080
    assert u.authority == Authority(Host.parse("example.com"), 8080)
    assert u.path == "/p/q"
    assert u.query == "z"
    assert str(u) == "HTTP://User:Pw@Example.COM:8080/p/q?z"


def test_absolute_form_defaults_and_empty_path() -> None:
    u = Uri("https://example.com")
    assert u.port == 443
    assert u.explicit_port is None
    assert u.path == "/"
    assert u.raw_path == ""
    assert u.path_and_query == "/"
    assert str(u) == "https://example.com"
    v = Uri("http://[::1]:81?q")
    assert v.host == Host.parse("::1")
    assert v.port == 81
    assert v.path_and_query == "/?q"
    w = Uri("foo://h/x")
    assert w.port is None
    assert w.authority is None
    assert w.host == Host.parse("h")
    assert Uri("http://h").authority == Authority(Host.parse("h"), 80)
    assert Uri("ws://h").port == 80
    assert Uri("wss://h").port == 443


def test_authority_and_asterisk_forms() -> None:
    u = Uri(b"example.com:443")
    assert u.form is UriForm.AUTHORITY
    assert u.authority == Authority.parse("example.com:443")
    assert u.port == 443
    assert u.path == ""
    assert u.path_and_query == ""
    assert Uri("[::1]:8080").host == Host.parse("::1")
    a = Uri("*")
    assert a.form is UriForm.ASTERISK
    assert a.path == "*"
    assert a.path_and_query == "*"


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"/a b",
        b"/a\tb",
        b"/a\x00",
        b"/a\x7f",
        b"/a\r\n",
        b"/a#frag",
        b"example.com",  # authority-form needs a port
        b"example.com:",
        b"example.com:99999",
        b"http://",
        b"http:///path",
        b"http://user@/p",
        b"http://h:port/",
        b"http://h:123456/",
        b"http://[::1/",
        b"http://[::1]x/",
        b"http://bad host/",
        b"1http://h/",
        b"ht_tp://h/",
        b"http://h\xc3\xa9.com/",
        b"#only",
    ],
)
def test_rejects(bad: bytes) -> None:
    with pytest.raises(InvalidUriError) as exc:
        Uri.parse(bad)
    assert exc.value.status_hint == 400


def test_str_with_non_latin1_is_rejected_with_hint() -> None:
    with pytest.raises(InvalidUriError, match="percent-encoded"):
        Uri("/\u20ac")


def test_fragment_allowed_on_request() -> None:
    u = Uri.parse("https://h/p?q#sec", allow_fragment=True)
    assert u.fragment == "sec"
    assert u.path_and_query == "/p?q"
    assert str(u) == "https://h/p?q#sec"
    assert str(u.to_origin_form()) == "/p?q"


def test_obs_text_bytes_are_kept() -> None:
    u = Uri(b"/caf\xc3\xa9")
    assert u.as_bytes() == b"/caf\xc3\xa9"
    assert Uri.parse(str(u)) == u


def test_builders() -> None:
    u = Uri("http://user:pw@h:8080/p?q")
    assert str(u.with_scheme("https")) == "https://user:pw@h:8080/p?q"
    assert str(u.with_authority("other:1")) == "http://user:pw@other:1/p?q"
    assert str(u.with_authority(Authority.parse("x:2"))) == "http://user:pw@x:2/p?q"
    assert str(u.with_path("/new")) == "http://user:pw@h:8080/new?q"
    assert str(u.with_query(None)) == "http://user:pw@h:8080/p"
    assert str(u.with_query("a=1")) == "http://user:pw@h:8080/p?a=1"
    assert str(u.with_path_and_query("/x?y")) == "http://user:pw@h:8080/x?y"
    assert str(u.with_path_and_query("/x")) == "http://user:pw@h:8080/x"
    assert str(u.without_userinfo()) == "http://h:8080/p?q"
    assert str(u.with_fragment("f")) == "http://user:pw@h:8080/p?q#f"
    assert str(u.to_origin_form()) == "/p?q"
    o = Uri("/p?q")
    assert o.to_origin_form() is o
    assert str(o.with_path("/z")) == "/z?q"
    with pytest.raises(InvalidUriError):
        o.with_scheme("http")
    with pytest.raises(InvalidUriError):
        o.with_path("relative")
    with pytest.raises(InvalidUriError):
        Uri("h:1").to_origin_form()
    assert str(Uri("h:1").with_authority("g:2")) == "g:2"
    assert str(Uri.from_parts(scheme=Protocol.HTTPS, authority="h")) == "https://h"
    assert str(Uri.from_parts(path="*")) == "*"
    assert str(Uri.from_parts()) == "/"
    with pytest.raises(InvalidUriError):
        Uri.from_parts(authority="h:1", userinfo="u")
    with pytest.raises(InvalidUriError):
        Uri.from_parts(path="/", userinfo="u")
    with pytest.raises(InvalidUriError):
        Uri.from_parts(scheme="http", authority="h", path="x")


def test_equality_and_hash() -> None:
    assert Uri("/a") == Uri(b"/a")
    assert Uri("/a") != Uri("/b")
    assert len({Uri("/a"), Uri(b"/a")}) == 1
    assert Uri("/a") != "/a"
    assert repr(Uri("/a")) == "Uri('/a')"


# -- property tests -----------------------------------------------------------------------

PCHARS = "abcXYZ019-._~!$&'()*+,;=:@%/"
segment = st.text(alphabet=PCHARS, max_size=8)
paths = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
queries = st.none() | st.text(alphabet=PCHARS + "?", max_size=10)
hosts = st.sampled_from(["example.com", "a.b.c", "127.0.0.1", "[::1]", "localhost", "x_y.org"])
ports = st.none() | st.integers(min_value=0, max_value=65535)
schemes = st.sampled_from(["http", "https", "HTTP", "ws", "git+ssh"])


@given(paths, queries)
def test_origin_round_trip(path: str, query: str | None) -> None:
    text = path if query is None else f"{path}?{query}"
    u = Uri.parse(text)
    assert str(u) == text
    assert u.path == path
    assert u.query == query
    assert Uri.parse(u.as_bytes()) == u


@given(schemes, hosts, ports, paths | st.just(""), queries)
def test_absolute_round_trip(
    scheme: str, host: str, port: int | None, path: str, query: str | None
) -> None:
    auth = host if port is None else f"{host}:{port}"
    text = f"{scheme}://{auth}{path}" + ("" if query is None else f"?{query}")
    u = Uri.parse(text)
    assert str(u) == text
    assert u.scheme == scheme.lower()
    assert u.authority_text == auth
    assert u.host == Host.parse(host)
    assert u.explicit_port == port
    assert u.path == (path or "/")
    assert u.query == query
    rebuilt = Uri.from_parts(scheme=scheme, authority=auth, path=path, query=query)
    assert rebuilt == u


@given(hosts, st.integers(min_value=1, max_value=65535))
def test_authority_round_trip(host: str, port: int) -> None:
    u = Uri.parse(f"{host}:{port}")
    assert u.form is UriForm.AUTHORITY
    assert u.authority == Authority(Host.parse(host), port)
    assert str(u) == f"{host}:{port}"


@given(st.binary(min_size=1, max_size=30))
def test_arbitrary_bytes_parse_or_fail_cleanly(raw: bytes) -> None:
    try:
        u = Uri.parse(raw)
    except InvalidUriError:
        return
    assert u.as_bytes() == raw
    assert Uri.parse(str(u)) == u
    assert not any(b <= 0x20 or b == 0x7F or b == 0x23 for b in raw)


@given(paths, st.sampled_from([" ", "\t", "\x00", "\r", "\n", "\x7f", "#", "\x1b"]), paths)
def test_bad_characters_are_rejected(a: str, bad: str, b: str) -> None:
    with pytest.raises(InvalidUriError):
        Uri.parse(a + bad + b)


def test_host_cache_is_bounded() -> None:
    from pyrama_http_types import _uri

    for i in range(_uri._HOST_CACHE_MAX + 10):
        assert Uri(f"http://h{i}.example/").host == Host.parse(f"h{i}.example")
    assert len(_uri._HOST_CACHE) <= _uri._HOST_CACHE_MAX
    with pytest.raises(InvalidUriError):
        Uri("http://bad_-.-host/")
