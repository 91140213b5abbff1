from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_types import (
    MAX_HEADERS,
    HeaderMap,
    Method,
    UriForm,
    Version,
    parse_request_head,
)
from pyrama_http_types.errors import HeadParseError


def test_parses_a_head_keeping_order_and_case() -> None:
    head = parse_request_head(
        b"GET /a?b HTTP/1.1\r\nHost: example.com\r\nX-CaSe:  spaced value \t\r\n"
        b"x-case: 2\r\nEmpty:\r\n\r\nBODY"
    )
    method, uri, version, headers = head
    assert method is Method.GET
    assert str(uri) == "/a?b"
    assert version is Version.HTTP_11
    assert headers.raw_items() == [
        (b"Host", b"example.com"),
        (b"X-CaSe", b"spaced value"),
        (b"x-case", b"2"),
        (b"Empty", b""),
    ]


def test_bare_lf_leading_empty_lines_and_forms() -> None:
    h = parse_request_head(b"\r\n\nCONNECT example.com:443 HTTP/1.0\nHost: example.com:443\n\n")
    assert h.method is Method.CONNECT
    assert h.uri.form is UriForm.AUTHORITY
    assert h.version is Version.HTTP_10
    assert h.headers.get("host") == "example.com:443"
    assert parse_request_head(b"OPTIONS * HTTP/1.1\r\n\r\n").uri.form is UriForm.ASTERISK
    p = parse_request_head(b"GET http://h:8/x HTTP/1.1\r\n\r\n")
    assert p.uri.port == 8
    assert p.headers == HeaderMap()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", 400),  # incomplete
        (b"", 400),
        (b"\r\n\r\n", 400),
        (b"GET /  HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / http/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.2\r\n\r\n", 505),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        (b"GET /a#f HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: 1\rB: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: x\x00y\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: x\x1by\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nA: x\x7fy\r\n\r\n", 400),
    ],
)
def test_rejects(data: bytes, status: int) -> None:
    with pytest.raises(HeadParseError) as exc:
        parse_request_head(data)
    assert exc.value.status_hint == status
    assert exc.value.hint == status


def test_size_limit() -> None:
    head = b"GET / HTTP/1.1\r\nA: " + b"x" * 100 + b"\r\n\r\n"
    assert parse_request_head(head, max_size=len(head)).headers.get("a") == "x" * 100
    with pytest.raises(HeadParseError) as exc:
        parse_request_head(head, max_size=len(head) - 1)
    assert exc.value.status_hint == 431
    with pytest.raises(HeadParseError) as exc:
        parse_request_head(b"GET / HTTP/1.1\r\nA: " + b"x" * 200, max_size=100)
    assert exc.value.status_hint == 431


def test_header_count_limit() -> None:
    def head(n: int) -> bytes:
        return b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(n)) + b"\r\n"

    assert len(parse_request_head(head(MAX_HEADERS)).headers) == MAX_HEADERS
    with pytest.raises(HeadParseError) as exc:
        parse_request_head(head(MAX_HEADERS + 1))
    assert exc.value.status_hint == 431
    assert len(parse_request_head(head(3), max_headers=3).headers) == 3
    with pytest.raises(HeadParseError):
        parse_request_head(head(4), max_headers=3)


def test_type_error() -> None:
    with pytest.raises(TypeError):
        parse_request_head("GET / HTTP/1.1\r\n\r\n")  # type: ignore[arg-type]


TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.text(alphabet=TOKEN, min_size=1, max_size=10)
values = st.binary(max_size=20).map(
    lambda b: bytes(c for c in b if c == 9 or 0x20 <= c != 0x7F).strip(b" \t")
)


@given(
    st.sampled_from(["GET", "POST", "PURGE", "M-SEARCH"]),
    st.sampled_from(["/", "/a?b=c", "*", "http://h/x", "h:1"]),
    st.sampled_from(["HTTP/1.0", "HTTP/1.1"]),
    st.lists(st.tuples(names, values), max_size=10),
    st.sampled_from([b"\r\n", b"\n"]),
)
def test_round_trip(
    method: str, target: str, version: str, fields: list[tuple[str, bytes]], eol: bytes
) -> None:
    data = f"{method} {target} {version}".encode() + eol
    for name, value in fields:
        data += name.encode() + b": " + value + eol
    data += eol
    m, u, v, h = parse_request_head(data)
    assert (m, str(u), str(v)) == (method, target, version)
    assert h.raw_items() == [(n.encode(), val) for n, val in fields]


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        head = parse_request_head(data)
    except HeadParseError:
        return
    assert head.version in (Version.HTTP_10, Version.HTTP_11)


@given(st.binary(min_size=1, max_size=60))
def test_any_head_prefix_is_incomplete_or_parses(extra: bytes) -> None:
    full = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    for cut in range(len(full)):
        with pytest.raises(HeadParseError):
            parse_request_head(full[:cut])
    assert parse_request_head(full + extra).headers.get("host") == "a"
