"""strip_hop_by_hop / strip_raw: the fast paths give what the plain rule says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyrama_http.proxy import HOP_BY_HOP_HEADERS, _headers, strip_hop_by_hop
from pyrama_http.proxy._headers import strip_raw
from pyrama_http_types import HeaderMap

_PROTECTED = {b"host", b"content-length", b"content-type"}


def reference(raw: list[tuple[bytes, bytes]], keep_te: bool) -> list[tuple[bytes, bytes]]:
    """The rule written plainly: hop-by-hop fields and what Connection names go."""
    names: set[bytes] = set()
    for name, value in raw:
        if name.lower() in (b"connection", b"proxy-connection"):
            names |= {t.strip(b" \t").lower() for t in value.split(b",")} - {b""}
    drop = set(HOP_BY_HOP_HEADERS) | (names - _PROTECTED)
    return [
        (name, value)
        for name, value in raw
        if name.lower() not in drop
        or (keep_te and name.lower() == b"te" and value.strip().lower() == b"trailers")
    ]


NAMES = st.sampled_from(
    [
        b"Host",
        b"Connection",
        b"connection",
        b"Proxy-Connection",
        b"Keep-Alive",
        b"TE",
        b"Trailer",
        b"Transfer-Encoding",
        b"Upgrade",
        b"X-A",
        b"x-b",
        b"Content-Length",
        b"Proxy-Authorization",
    ]
)
VALUES = st.sampled_from(
    [
        b"keep-alive",
        b"close",
        b"x-a",
        b"X-A, x-b",
        b" x-b ,, host",
        b"trailers",
        b"content-length, Upgrade",
        b"1",
        b"",
    ]
)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=8), st.booleans())
def test_strip_raw_follows_the_rule(raw: list[tuple[bytes, bytes]], keep_te: bool) -> None:
    expected = reference(raw, keep_te)
    assert strip_raw(list(raw), keep_te_trailers=keep_te) == expected
    got = strip_hop_by_hop(HeaderMap.from_raw(list(raw)), keep_te_trailers=keep_te)
    assert got.raw_items() == expected


def test_nothing_to_drop_returns_the_same_pairs() -> None:
    raw = [(b"Host", b"a"), (b"X-Y", b"z")]
    assert strip_raw(raw) is raw


def test_the_connection_options_cache_is_bounded() -> None:
    _headers._OPTIONS_CACHE.clear()
    for i in range(_headers._OPTIONS_CACHE_MAX + 10):
        assert strip_raw([(b"Connection", b"x-%d" % i), (b"X-%d" % i, b"v"), (b"A", b"b")]) == [
            (b"A", b"b")
        ]
        assert len(_headers._OPTIONS_CACHE) <= _headers._OPTIONS_CACHE_MAX
