from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_types import (
    Accept,
    AcceptEncoding,
    AcceptLanguage,
    Authorization,
    Connection,
    ContentEncoding,
    ContentLength,
    ContentType,
    Cookie,
    Date,
    HeaderMap,
    HostHeader,
    IfModifiedSince,
    LastModified,
    Location,
    MimeType,
    ProxyAuthorization,
    QualityValue,
    Referer,
    Server,
    SetCookie,
    TransferEncoding,
    TypedHeader,
    Upgrade,
    UserAgent,
    Via,
    format_http_date,
    parse_http_date,
)
from pyrama_http_types.errors import TypedHeaderError
from pyrama_net import Basic, Bearer, Host

SAMPLES: list[Any] = [
    ContentLength(0),
    ContentLength(12345678901234),
    ContentType(MimeType("text", "html", (("charset", "utf-8"),))),
    ContentType(MimeType("multipart", "form-data", (("boundary", "a b;c"),))),
    ContentType.json(),
    ContentType.text_utf8(),
    ContentType.html_utf8(),
    ContentType.form_url_encoded(),
    ContentType.octet_stream(),
    ContentType.event_stream(),
    HostHeader(Host.parse("example.com")),
    HostHeader(Host.parse("::1"), 8080),
    HostHeader(Host.parse("10.0.0.1"), 80),
    UserAgent("curl/8.0"),
    Server("pyrama"),
    Location("/elsewhere?x=1"),
    Referer("https://example.com/"),
    Connection(("keep-alive", "upgrade")),
    Connection.close(),
    TransferEncoding(("gzip", "chunked")),
    ContentEncoding(("br",)),
    Upgrade(("websocket", "h2c", "HTTP/2.0")),
    Via(("1.1 proxy.example", "HTTP/2 other (comment)")),
    Accept.of("text/html", QualityValue("application/xml;level=1", 0.9), QualityValue("*/*", 0.8)),
    AcceptEncoding.of("gzip", QualityValue("br", 0.5), QualityValue("identity", 0.0)),
    AcceptLanguage.of("en-US", QualityValue("en", 0.25)),
    Authorization(Basic("user", "pa:ss")),
    Authorization(Bearer("abc.def-ghi")),
    ProxyAuthorization(Basic("u", "")),
    Cookie((("a", "1"), ("b", '"quoted"'))),
    SetCookie("sid", "abc", (("Path", "/"), ("HttpOnly", None), ("Max-Age", "60"))),
    Date(datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
    LastModified(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    IfModifiedSince(datetime(2000, 1, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize("header", SAMPLES, ids=lambda h: type(h).__name__)
def test_round_trip_through_header_map(header: Any) -> None:
    assert isinstance(header, TypedHeader)
    h = HeaderMap()
    h.typed_insert(header)
    assert h.get(type(header).name) == header.encode()
    assert h.typed_get(type(header)) == header
    assert type(header).decode([header.encode()]) == header


def test_typed_get_absent_and_invalid() -> None:
    h = HeaderMap([("Content-Length", "abc")])
    assert h.typed_get(UserAgent) is None
    with pytest.raises(TypedHeaderError) as exc:
        h.typed_get(ContentLength)
    assert exc.value.status_hint == 400
    assert h.typed_try_get(ContentLength) is None


def test_typed_insert_replaces() -> None:
    h = HeaderMap([("content-length", "1"), ("content-length", "2")])
    h.typed_insert(ContentLength(3))
    assert h.raw_items() == [(b"content-length", b"3")]


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["5"], 5), (["5, 5"], 5), (["5", "5"], 5), (["0"], 0), (["007"], 7)],
)
def test_content_length_ok(values: list[str], expected: int) -> None:
    assert int(ContentLength.decode(values)) == expected


@pytest.mark.parametrize(
    "values",
    [["5", "6"], ["5, 6"], ["-1"], ["+1"], ["1.0"], [""], ["1" * 20], ["\u0661"], [" , "]],
)
def test_content_length_rejects(values: list[str]) -> None:
    with pytest.raises(TypedHeaderError):
        ContentLength.decode(values)


def test_content_length_digit_limit() -> None:
    assert ContentLength.decode(["9" * 19]).value == int("9" * 19)
    with pytest.raises(TypedHeaderError, match="19 digits"):
        ContentLength.decode(["1" * 20])
    with pytest.raises(TypedHeaderError):
        ContentLength(-1)
    with pytest.raises(TypedHeaderError):
        ContentLength(True)


def test_mime_parsing() -> None:
    m = MimeType.parse('Text/HTML ; Charset="UTF-8" ; q="a\\"b"')
    assert m.essence == "text/html"
    assert m.charset == "utf-8"
    assert m.param("CHARSET") == "UTF-8"
    assert m.param("q") == 'a"b'
    assert m.param("missing") is None
    assert str(m) == 'text/html; charset=UTF-8; q="a\\"b"'
    assert m.matches("text/*")
    assert m.matches("*/*")
    assert not m.matches("application/json")
    assert MimeType.parse("application/problem+json").is_json
    assert ContentType.json().mime.is_json
    assert not ContentType.text_utf8().mime.is_json
    assert ContentType.parse("text/plain").mime.params == ()
    for bad in ["text", "text/", "/html", "te xt/html", "text/html; charset", 'a/b; c="x']:
        with pytest.raises((ValueError, TypedHeaderError)):
            ContentType.decode([bad])
    with pytest.raises(TypedHeaderError, match="different"):
        ContentType.decode(["text/plain", "text/html"])


def test_host_header() -> None:
    h = HostHeader.parse("Example.COM:8080")
    assert h.host == Host.parse("example.com")
    assert h.port == 8080
    assert HostHeader.parse("[::1]").port is None
    assert HostHeader.decode(["a.b", "a.b"]).encode() == "a.b"
    for bad in ["", "a b", "a:", "a:x", "a:99999", "[::1", "[::1]x", "[::1]:x"]:
        with pytest.raises(TypedHeaderError):
            HostHeader.decode([bad])
    with pytest.raises(TypedHeaderError):
        HostHeader.decode(["a", "b"])


def test_token_lists() -> None:
    c = Connection.decode(["Keep-Alive, Upgrade", "", "close"])
    assert c.options == ("keep-alive", "upgrade", "close")
    assert c.is_keep_alive
    assert c.is_upgrade
    assert c.is_close
    assert c.has("UPGRADE")
    assert Connection.keep_alive().encode() == "keep-alive"
    assert Connection.upgrade().is_upgrade
    te = TransferEncoding.decode(["gzip", "Chunked"])
    assert te.is_chunked
    assert not TransferEncoding.decode(["chunked, gzip"]).is_chunked
    assert TransferEncoding.chunked().encode() == "chunked"
    with pytest.raises(TypedHeaderError):
        TransferEncoding.decode([""])
    with pytest.raises(TypedHeaderError):
        TransferEncoding.decode(["chunked;q=1"])
    with pytest.raises(TypedHeaderError):
        Connection.decode(["a b"])
    u = Upgrade.decode(["WebSocket"])
    assert u.has("websocket")
    assert not u.has("h2c")
    assert Upgrade.websocket().encode() == "websocket"
    with pytest.raises(TypedHeaderError):
        Upgrade.decode(["a/b/c"])
    v = Via.decode(['1.0 fred, 1.1 p.example.com (Apache/1.1), 1.1 "x,y"'])
    assert v.entries == ("1.0 fred", "1.1 p.example.com (Apache/1.1)", '1.1 "x,y"')
    assert v.with_entry("1.1 pyrama").entries[-1] == "1.1 pyrama"


def test_quality_lists() -> None:
    a = Accept.decode(["text/html, application/xhtml+xml;q=0.9 , */*;q=0.8", "image/webp;q=1.0"])
    assert [i.value for i in a.items] == [
        "text/html",
        "application/xhtml+xml",
        "*/*",
        "image/webp",
    ]
    assert [i.value for i in a.preferred()] == [
        "text/html",
        "image/webp",
        "application/xhtml+xml",
        "*/*",
    ]
    e = AcceptEncoding.decode(["gzip;q=0, br"])
    assert [i.value for i in e.preferred()] == ["br"]
    assert str(QualityValue("x", 0.125)) == "x;q=0.125"
    assert str(QualityValue("x", 0.5)) == "x;q=0.5"
    assert AcceptLanguage.decode(["de-CH, fr;Q=0.5"]).items[1].quality == 0.5
    kept = Accept.decode(["text/html;level=1;q=0.5"]).items[0]
    assert kept == QualityValue("text/html;level=1", 0.5)
    for bad in ["a;q=2", "a;q=0.1234", "a;q=-1", "a;q=", ";q=1"]:
        with pytest.raises(TypedHeaderError):
            Accept.decode([bad])


def test_authorization() -> None:
    a = Authorization.decode(["basic dXNlcjpwYXNz"])
    assert a.credentials == Basic("user", "pass")
    assert Authorization.decode(["Bearer tok"]).credentials == Bearer("tok")
    for bad in ["Digest x", "Basic !!!", "Bearer", ""]:
        with pytest.raises(TypedHeaderError):
            Authorization.decode([bad])
    h = HeaderMap()
    h.typed_insert(ProxyAuthorization(Basic("u", "p")))
    assert h.get("proxy-authorization") == Basic("u", "p").encode_header_value()
    assert "secret" not in repr(Authorization(Basic("u", "secret")))


def test_cookies() -> None:
    c = Cookie.decode(["a=1; b=2;;  c = 3 ", "novalue; =x; d=4"])
    assert c.pairs == (("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"))
    assert c.get("b") == "2"
    assert c.get("z") is None
    assert Cookie.decode(["a=1; a=2"]).get_all("a") == ["1", "2"]
    s = SetCookie.parse("id=a3fWa; Expires=Thu, 31 Oct 2021 07:28:00 GMT; Secure; HttpOnly")
    assert s.cookie_name == "id"
    assert s.value == "a3fWa"
    assert s.attribute("expires") == "Thu, 31 Oct 2021 07:28:00 GMT"
    assert s.attribute("secure") == ""
    assert s.attribute("path") is None
    assert SetCookie.decode(["a=1", "b=2"]).cookie_name == "a"
    for bad in ["noequals", "bad name=1", "a=b c", "a=\x01"]:
        with pytest.raises(TypedHeaderError):
            SetCookie.parse(bad)
    with pytest.raises(TypedHeaderError):
        SetCookie("a", "b", (("x;y", None),))
    with pytest.raises(TypedHeaderError):
        SetCookie.decode([])


def test_text_headers() -> None:
    assert UserAgent.decode(["x/1"]).value == "x/1"
    assert str(Server("s")) == "s"
    with pytest.raises(TypedHeaderError):
        UserAgent("bad\x01")
    with pytest.raises(TypedHeaderError):
        Location("has space")
    with pytest.raises(TypedHeaderError):
        UserAgent.decode(["a", "b"])


def test_http_date_formats() -> None:
    expected = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == expected
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == expected
    assert format_http_date(expected) == "Sun, 06 Nov 1994 08:49:37 GMT"
    plus2 = timezone(timedelta(hours=2))
    assert format_http_date(datetime(1994, 11, 6, 10, 49, 37, tzinfo=plus2)) == (
        "Sun, 06 Nov 1994 08:49:37 GMT"
    )
    assert format_http_date(datetime(1994, 11, 6, 8, 49, 37)) == "Sun, 06 Nov 1994 08:49:37 GMT"
    for bad in [
        "Mon, 06 Nov 1994 08:49:37 GMT",  # wrong weekday
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "yesterday",
    ]:
        with pytest.raises(ValueError, match=r"HTTP-date|month|date"):
            parse_http_date(bad)
    with pytest.raises(TypedHeaderError):
        Date.decode(["yesterday"])
    d = Date(datetime(2020, 1, 1, 0, 0, 0, 999999, tzinfo=UTC))
    assert d.when.microsecond == 0
    assert Date.now().when.tzinfo is UTC


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31)))
def test_http_date_round_trip(when: datetime) -> None:
    when = when.replace(microsecond=0, tzinfo=UTC)
    assert parse_http_date(format_http_date(when)) == when
    assert Date.decode([Date(when).encode()]).when == when


@given(st.lists(st.integers(min_value=0, max_value=10**18), min_size=1, max_size=3))
def test_content_length_property(lengths: list[int]) -> None:
    values = [str(n) for n in lengths]
    if len(set(lengths)) == 1:
        assert ContentLength.decode(values).value == lengths[0]
        assert ContentLength.decode([", ".join(values)]).value == lengths[0]
    else:
        with pytest.raises(TypedHeaderError):
            ContentLength.decode(values)


TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TOKEN, min_size=1, max_size=8)
param_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8)


@given(tokens, tokens, st.lists(st.tuples(tokens, param_values), max_size=3))
def test_mime_round_trip(t: str, sub: str, params: list[tuple[str, str]]) -> None:
    m = MimeType(t, sub, tuple(params))
    assert MimeType.parse(str(m)) == m
