"""ClientWriter's request head cache: the same bytes and codec state as a fresh encoding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_http_core import H11ClientCodec, HttptoolsClientCodec
from pyrama_http_core import _codec_write as cw
from pyrama_http_core.errors import HttpProtocolError

CODECS = [H11ClientCodec, HttptoolsClientCodec]
Fields = Sequence[tuple[bytes, bytes]]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cw._REQUEST_HEADS.clear()
    cw._REQUEST_HEADS_SEEN.clear()
    yield
    cw._REQUEST_HEADS.clear()
    cw._REQUEST_HEADS_SEEN.clear()


def _state(codec: cw.ClientWriter) -> tuple[object, ...]:
    body = codec._body
    assert body is not None
    return (
        codec._method,
        codec._switch,
        codec._keep_alive,
        codec._in_exchange,
        body.kind,
        body.remaining,
        body.done,
    )


def _send(
    make: type[cw.ClientWriter],
    method: bytes,
    target: bytes,
    fields: Fields,
    length: int | None = 0,
) -> tuple[bytes, tuple[object, ...]]:
    codec = make()
    head = codec.send_request(method, target, fields, content_length=length)
    return head, _state(codec)


def _fresh(make: type[cw.ClientWriter], *head: Any) -> tuple[bytes, tuple[object, ...]]:
    """:func:`_send` with an empty cache (the cache is left as it was)."""
    saved, seen = dict(cw._REQUEST_HEADS), set(cw._REQUEST_HEADS_SEEN)
    cw._REQUEST_HEADS.clear()
    cw._REQUEST_HEADS_SEEN.clear()
    try:
        return _send(make, *head)
    finally:
        cw._REQUEST_HEADS.clear()
        cw._REQUEST_HEADS.update(saved)
        cw._REQUEST_HEADS_SEEN.clear()
        cw._REQUEST_HEADS_SEEN.update(seen)


@pytest.mark.parametrize("make", CODECS)
def test_a_repeated_request_head_comes_from_the_cache(make: type[cw.ClientWriter]) -> None:
    fields = [(b"Host", b"example.com"), (b"Accept", b"*/*")]
    first = _send(make, b"GET", b"/x", fields)
    assert not cw._REQUEST_HEADS  # seen once: not kept
    second = _send(make, b"GET", b"/x", fields)
    assert len(cw._REQUEST_HEADS) == 1
    third = _send(make, b"GET", b"/x", list(fields))
    assert first == second == third
    assert third[0] == b"GET /x HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
    # the cached bytes object itself is handed out
    (cached,) = cw._REQUEST_HEADS.values()
    assert _send(make, b"GET", b"/x", fields)[0] is cached[0]


@pytest.mark.parametrize("make", CODECS)
@pytest.mark.parametrize(
    ("method", "target", "fields", "length"),
    [
        (b"GET", b"/", [(b"Host", b"a")], 0),
        (b"HEAD", b"/", [(b"Host", b"a")], 0),
        (b"POST", b"/p", [(b"Host", b"a")], 0),
        (b"POST", b"/p", [(b"Host", b"a")], 5),
        (b"POST", b"/p", [(b"Host", b"a")], None),
        (b"PUT", b"/p", [(b"Host", b"a"), (b"Content-Length", b"3")], 3),
        (b"POST", b"/p", [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"3")], None),
        (b"GET", b"/", [(b"Host", b"a"), (b"Connection", b"close")], 0),
        (b"GET", b"/ws", [(b"Host", b"a"), (b"Connection", b"upgrade"), (b"Upgrade", b"x")], 0),
        (b"CONNECT", b"a:443", [(b"Host", b"a:443")], 0),
        (b"GET", b"http://a/", [], 0),
    ],
)
def test_cached_heads_give_the_encoded_bytes_and_state(
    make: type[cw.ClientWriter],
    method: bytes,
    target: bytes,
    fields: Fields,
    length: int | None,
) -> None:
    fresh = _fresh(make, method, target, fields, length)
    for _ in range(3):
        assert _send(make, method, target, fields, length) == fresh
    assert len(cw._REQUEST_HEADS) == 1


@pytest.mark.parametrize("make", CODECS)
def test_bad_input_is_refused_after_a_good_head_was_cached(make: type[cw.ClientWriter]) -> None:
    good = [(b"Host", b"a")]
    for _ in range(3):
        _send(make, b"GET", b"/", good)
    assert len(cw._REQUEST_HEADS) == 1
    bad: list[tuple[bytes, bytes, Fields, str]] = [
        (b"G T", b"/", good, "invalid method"),
        (b"GET", b"/ x", good, "invalid request target"),
        (b"GET", b"/\x00", good, "invalid request target"),
        (b"GET", b"", good, "invalid request target"),
        (b"GET", b"/", [(b"Host", b"a\r\nX: y")], "invalid header value"),
        (b"GET", b"/", [(b"Ho st", b"a")], "invalid header name"),
        (b"GET", b"/", [(b"Host", b"a"), (b"Content-Length", b"x")], "invalid Content-Length"),
        (b"GET", b"/", [(b"Transfer-Encoding", b"gzip")], "unsupported Transfer-Encoding"),
    ]
    for method, target, fields, message in bad:
        for _ in range(3):  # refused every time (a refused head is never kept)
            with pytest.raises(HttpProtocolError, match=message):
                _send(make, method, target, fields)
    assert len(cw._REQUEST_HEADS) == 1


class _Bytes(bytes):
    """A bytes subclass: never a cache key."""


@pytest.mark.parametrize("make", CODECS)
def test_inexact_types_are_encoded_but_never_kept(make: type[cw.ClientWriter]) -> None:
    cases: list[tuple[bytes, bytes, Fields, int | None]] = [
        (_Bytes(b"GET"), b"/", [(b"Host", b"a")], 0),
        (b"GET", _Bytes(b"/"), [(b"Host", b"a")], 0),
        (b"GET", b"/", [(_Bytes(b"Host"), b"a")], 0),
        (b"GET", b"/", [(b"Host", _Bytes(b"a"))], 0),
        (b"POST", b"/", [(b"Host", b"a")], True),  # a bool is no length key
    ]
    for method, target, fields, length in cases:
        want = _fresh(make, bytes(method), bytes(target), [(bytes(n), bytes(v)) for n, v in fields])
        if length is True:
            want = _fresh(make, b"POST", b"/", [(b"Host", b"a")], 1)
        for _ in range(3):
            assert _send(make, method, target, fields, length) == want
    assert not cw._REQUEST_HEADS


@pytest.mark.parametrize("make", CODECS)
def test_unhashable_fields_are_encoded_without_the_cache(make: type[cw.ClientWriter]) -> None:
    fields: list[object] = [[b"Host", b"a"], (b"X", bytearray(b"y"))]
    for _ in range(3):
        head, _ = _send(make, b"GET", b"/", fields)  # type: ignore[arg-type]
        assert head == b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n"
    assert not cw._REQUEST_HEADS


def test_long_heads_are_not_kept() -> None:
    fields = [(b"Cookie", b"c" * cw._REQUEST_HEAD_MAX)]
    for _ in range(3):
        _send(HttptoolsClientCodec, b"GET", b"/", fields)
    assert not cw._REQUEST_HEADS


def test_the_request_head_cache_is_bounded() -> None:
    for round_ in range(2):
        for i in range(3 * cw._HEADS_MAX):
            _send(HttptoolsClientCodec, b"GET", b"/%d" % i, [(b"Host", b"a")])
            assert len(cw._REQUEST_HEADS) <= cw._HEADS_MAX
            assert len(cw._REQUEST_HEADS_SEEN) <= 4 * cw._HEADS_MAX
        if round_ == 0:
            assert not cw._REQUEST_HEADS  # each seen once so far
    assert cw._REQUEST_HEADS


_HEADS = st.tuples(
    st.sampled_from([b"GET", b"POST", b"HEAD", b"CONNECT", b"G\x01T"]),
    st.sampled_from([b"/", b"/a?b", b"a:443", b"/\r", b"http://h/x"]),
    st.lists(
        st.sampled_from(
            [
                (b"Host", b"h"),
                (b"host", b"h2"),
                (b"Accept", b"*/*"),
                (b"Connection", b"close"),
                (b"Connection", b"keep-alive, Upgrade"),
                (b"Upgrade", b"websocket"),
                (b"Content-Length", b"2"),
                (b"Content-Length", b"3"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Bad Name", b"v"),
                (b"X", b"v\n"),
            ]
        ),
        max_size=4,
    ),
    st.sampled_from([None, 0, 2, 7]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_HEADS, min_size=1, max_size=12), st.sampled_from(CODECS))
def test_cached_and_fresh_encodings_agree(
    heads: list[tuple[bytes, bytes, list[tuple[bytes, bytes]], int | None]],
    make: type[cw.ClientWriter],
) -> None:
    cw._REQUEST_HEADS.clear()
    cw._REQUEST_HEADS_SEEN.clear()
    for method, target, fields, length in heads * 3:
        try:
            want: object = _fresh(make, method, target, fields, length)
        except HttpProtocolError as exc:
            want = str(exc)
        try:
            got: object = _send(make, method, target, fields, length)
        except HttpProtocolError as exc:
            got = str(exc)
        assert got == want
