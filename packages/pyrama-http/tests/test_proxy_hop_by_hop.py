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


@given(st.lists(st.lists(st.tuples(NAMES, VALUES), max_size=6), min_size=1, max_size=6))
def test_plans_kept_per_names_follow_the_rule_for_any_values(
    blocks: list[list[tuple[bytes, bytes]]],
) -> None:
    # the same names come back with other values: the kept plan must not decide by them
    for raw in blocks * 2:
        assert strip_raw(list(raw)) == reference(raw, False)


def test_a_kept_plan_still_reads_the_connection_values() -> None:
    _headers._PLANS.clear()
    names = (b"Connection", b"X-A", b"Host")
    for value, want in [
        (b"keep-alive", [(b"X-A", b"1"), (b"Host", b"h")]),
        (b"keep-alive", [(b"X-A", b"1"), (b"Host", b"h")]),
        (b"x-a", [(b"Host", b"h")]),
        (b"close, host", [(b"X-A", b"1"), (b"Host", b"h")]),  # Host is protected
        (b"keep-alive", [(b"X-A", b"1"), (b"Host", b"h")]),
    ]:
        raw = list(zip(names, (value, b"1", b"h"), strict=True))
        assert strip_raw(raw) == want
    assert names in _headers._PLANS


class _Name(bytes):
    """A bytes subclass: never part of a kept plan."""


def test_inexact_names_are_stripped_without_a_kept_plan() -> None:
    _headers._PLANS.clear()
    for _ in range(3):
        raw = [(_Name(b"Connection"), b"x-a"), (b"X-A", b"1"), (b"B", b"2")]
        assert strip_raw(raw) == [(b"B", b"2")]
    assert not _headers._PLANS


def test_the_plan_cache_is_bounded() -> None:
    _headers._PLANS.clear()
    for i in range(_headers._PLANS_MAX + 10):
        raw = [(b"X-%d" % i, b"v"), (b"Keep-Alive", b"5"), (b"A", b"b")]
        assert strip_raw(raw) == [(b"X-%d" % i, b"v"), (b"A", b"b")]
        assert len(_headers._PLANS) <= _headers._PLANS_MAX


def test_results_are_kept_per_fields_as_fresh_lists() -> None:
    _headers._RESULTS.clear()
    raw = [(b"Host", b"h"), (b"Connection", b"keep-alive"), (b"X-A", b"1")]
    first = strip_raw(list(raw))
    assert tuple(raw) in _headers._RESULTS
    first.append((b"X-Mine", b"2"))  # the caller owns what it got
    again = strip_raw(list(raw))
    assert again == [(b"Host", b"h"), (b"X-A", b"1")]
    assert again is not first
    # the same names with a value that names a field: another result, not the kept one
    assert strip_raw([(b"Host", b"h"), (b"Connection", b"x-a"), (b"X-A", b"1")]) == [
        (b"Host", b"h")
    ]
    unchanged = [(b"Host", b"h")]
    for _ in range(2):
        assert strip_raw(unchanged) is unchanged
    # a block with nothing left is kept too, and stays empty
    for _ in range(2):
        assert strip_raw([(b"Connection", b"close")]) == []


def test_unhashable_fields_are_stripped_without_the_results_cache() -> None:
    _headers._RESULTS.clear()
    for _ in range(2):
        raw = [(b"Connection", b"x-a"), (b"X-A", b"1"), (b"B", bytearray(b"2"))]
        assert strip_raw(raw) == [(b"B", b"2")]  # type: ignore[arg-type]
    assert not _headers._RESULTS


def test_the_results_cache_is_bounded() -> None:
    _headers._RESULTS.clear()
    for i in range(_headers._RESULTS_MAX + 10):
        raw = [(b"Date", b"%d" % i), (b"Keep-Alive", b"5")]
        assert strip_raw(raw) == [(b"Date", b"%d" % i)]
        assert len(_headers._RESULTS) <= _headers._RESULTS_MAX
