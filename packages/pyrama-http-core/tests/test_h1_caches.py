"""The HTTP/1.1 server codecs' caches (request heads, plain fields, response heads): same bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_http_core import (
    NEED_DATA,
    PAUSED,
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    H11ServerCodec,
    HttpLimits,
    HttptoolsServerCodec,
    RequestHead,
)
from pyrama_http_core._codec_server import (
    HEAD_CACHE_ENTRIES,
    HEAD_CACHE_MAX_LEN,
    HeadCache,
    ServerReader,
)

CODECS = [H11ServerCodec, HttptoolsServerCodec]
GET = b"GET /poll HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"


def _answer(codec: ServerReader) -> None:
    codec.send_response(200, [(b"content-length", b"0")])
    codec.send_end()


def _events(codec: ServerReader, data: bytes, *, uncached: bool = False) -> list[object]:
    """Every event of *data* (pipelined requests), answering each request with a 200."""
    codec.receive(data)
    codec.receive(b"")
    out: list[object] = []
    for _ in range(200):
        if uncached:
            codec._heads.heads.clear()
        ev = codec.next_event()
        if isinstance(ev, CodecError):
            out.append(("refused", ev.error.hint))
            return out
        if ev is NEED_DATA or isinstance(ev, ConnectionClosed):
            out.append(ev)
            return out
        if ev is PAUSED:
            if not codec.keep_alive:
                return out
            _answer(codec)
            continue
        out.append(ev)
        if isinstance(ev, EndOfMessage) and not codec.response_started:
            _answer(codec)
    raise AssertionError("too many events")


def _fresh(make: type[ServerReader], limits: HttpLimits | None = None) -> ServerReader:
    codec = make(HttpLimits() if limits is None else limits)
    codec._heads = HeadCache()
    return codec


@pytest.mark.parametrize("make", CODECS)
def test_a_repeated_head_is_answered_from_the_cache(make: type[ServerReader]) -> None:
    codec = _fresh(make)
    events = _events(codec, GET * 4)
    heads = [ev for ev in events if isinstance(ev, RequestHead)]
    assert len(heads) == 4
    # parsed twice (kept from the second parse on), then answered from the cache
    assert heads[1] is not heads[0]
    assert heads[1] == heads[0]
    assert heads[2] is heads[1]
    assert heads[3] is heads[1]
    assert heads[0].method == b"GET"
    assert heads[0].target == b"/poll"
    assert heads[0].headers == [(b"Host", b"a"), (b"Accept", b"*/*")]
    assert sum(isinstance(ev, EndOfMessage) for ev in events) == 4
    assert codec._heads.heads[GET] is heads[1]


@pytest.mark.parametrize("make", CODECS)
def test_a_head_parsed_once_is_not_kept(make: type[ServerReader]) -> None:
    codec = _fresh(make)
    _events(codec, GET)
    assert codec._heads.heads == {}
    assert codec._heads.seen == {hash(GET)}


@pytest.mark.parametrize("make", CODECS)
def test_a_cached_head_still_meets_this_codecs_limits(make: type[ServerReader]) -> None:
    big = _fresh(make)
    _events(big, GET * 2)
    assert GET in big._heads.heads
    # another codec on the same parser, with smaller limits, refuses what the cache holds
    small_head = _fresh(make, HttpLimits(max_header_size=len(GET) - 1))
    small_head._heads = big._heads
    assert _events(small_head, GET) == [("refused", 431)]
    few_fields = _fresh(make, HttpLimits(max_headers=1))
    few_fields._heads = big._heads
    assert _events(few_fields, GET) == [("refused", 431)]


@pytest.mark.parametrize("make", CODECS)
@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
        b"GET /" + b"a" * HEAD_CACHE_MAX_LEN + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
def test_heads_with_bodies_upgrades_or_size_are_not_cached(
    make: type[ServerReader], request_bytes: bytes
) -> None:
    cache = HeadCache()
    for _ in range(3):
        codec = make(HttpLimits())
        codec._heads = cache
        events = _events(codec, request_bytes)
        assert isinstance(events[0], RequestHead)
    assert cache.heads == {}
    assert cache.seen == set()


def test_the_cache_is_bounded() -> None:
    cache = HeadCache(max_entries=4)
    codec = HttptoolsServerCodec(HttpLimits())
    codec._heads = cache
    data = b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(11))
    events = _events(codec, data * 2)
    assert sum(isinstance(ev, RequestHead) for ev in events) == 22
    assert 1 <= len(cache.heads) <= 4
    assert 1 <= len(cache.seen) <= 16  # heads parsed once: 4x the entries at most
    # the default bound
    assert HeadCache().max_entries == HEAD_CACHE_ENTRIES


@pytest.mark.parametrize("make", CODECS)
@pytest.mark.parametrize("fused", [False, True])
def test_a_cached_connect_head_still_switches(make: type[ServerReader], fused: bool) -> None:
    # a proxy's tunnels to one origin repeat their CONNECT head: it is cached like a GET's,
    # and a hit (through next_event or receive_next) still proposes the switch
    connect = b"CONNECT o:443 HTTP/1.1\r\nHost: o:443\r\n\r\n"
    cache = HeadCache()
    heads = []
    for _ in range(3):
        codec = make(HttpLimits())
        codec._heads = cache
        if fused:  # the head alone in a read, as a client waiting for the 200 sends it
            ev = codec.receive_next(connect)
            codec.receive(b"early")
        else:
            codec.receive(connect + b"early")
            ev = codec.next_event()
        assert isinstance(ev, RequestHead)
        assert ev.method == b"CONNECT"
        heads.append(ev)
        assert codec._switch == 2
        codec.send_response(200, [])
        assert codec.take_switched() == b"early"
        assert not codec.keep_alive
    assert connect in cache.heads
    assert heads[2] is heads[1]  # the third came from the cache


HEADS = [
    GET,
    b"GET /poll HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
    b"GET /poll HTTP/1.0\r\nHost: a\r\n\r\n",
    b"HEAD /x HTTP/1.1\r\nhost: b\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.2\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host: 400
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n",  # bare LF
    b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",  # too many fields
    b"\r\nGET /lead HTTP/1.1\r\nHost: a\r\n\r\n",
]


@settings(max_examples=300, deadline=None)
@given(
    picks=st.lists(st.sampled_from(HEADS), min_size=1, max_size=8),
    make=st.sampled_from(CODECS),
)
def test_cached_and_uncached_parses_agree(picks: list[bytes], make: type[ServerReader]) -> None:
    data = b"".join(picks)
    limits = HttpLimits(max_headers=4)
    cached = _events(make(limits), data)
    again = _events(make(limits), data)  # the cache is warm now
    uncached = _events(make(limits), data, uncached=True)
    assert cached == uncached, data
    assert again == uncached, data


# -- the encoder's cache of plain fields ---------------------------------------------------


def _response(codec: ServerReader, headers: list[tuple[bytes, bytes]]) -> bytes:
    codec._request_started(b"GET", b"1.1", True, False)
    codec._new_exchange()
    codec._request_started(b"GET", b"1.1", True, False)
    return codec.send_response(200, headers, content_length=0)


def test_a_plain_field_is_written_the_same_from_the_cache() -> None:
    from pyrama_http_core import _codec_write as cw

    cw._PLAIN.clear()
    codec = HttptoolsServerCodec()
    fields = [(b"Content-Type", b"text/plain"), (b"X-Custom", b"1")]
    first = _response(codec, fields)
    assert (b"Content-Type", b"text/plain") in cw._PLAIN
    second = _response(codec, list(fields))
    assert first == second
    assert b"\r\nContent-Type: text/plain\r\nX-Custom: 1\r\n" in second


def test_framing_long_and_invalid_fields_are_never_cached() -> None:
    from pyrama_http_core import _codec_write as cw
    from pyrama_http_core.errors import HttpProtocolError

    cw._PLAIN.clear()
    codec = HttptoolsServerCodec()
    long_value = b"v" * (cw._PLAIN_FIELD_MAX + 1)
    _response(codec, [(b"Content-Length", b"0"), (b"Connection", b"close"), (b"X", long_value)])
    assert set() == cw._PLAIN
    # one bad field in the block: nothing of the block is remembered, and it stays refused
    for _ in range(2):
        with pytest.raises(HttpProtocolError):
            _response(codec, [(b"X-Good", b"1"), (b"X-Bad", b"a\r\nb")])
    assert set() == cw._PLAIN
    with pytest.raises(HttpProtocolError):
        _response(codec, [(b"Bad Name", b"1")])
    assert set() == cw._PLAIN


def test_unhashable_fields_are_encoded_without_the_cache() -> None:
    codec = HttptoolsServerCodec()
    fields = [[b"X-List", b"1"], (b"X-Array", bytearray(b"2"))]
    for _ in range(2):
        out = _response(codec, fields)  # type: ignore[arg-type]
        assert b"X-List: 1\r\nX-Array: 2\r\n" in out


def test_the_plain_field_cache_is_bounded() -> None:
    from pyrama_http_core import _codec_write as cw

    cw._PLAIN.clear()
    codec = HttptoolsServerCodec()
    for i in range(cw._PLAIN_MAX + 10):
        _response(codec, [(b"X-Id", b"%d" % i)])
    assert 1 <= len(cw._PLAIN) <= cw._PLAIN_MAX


# -- the cache of whole response heads ------------------------------------------------------

STATUSES = [200, 204, 304, 404, 500]
FIELD_SETS = [
    [],
    [(b"Content-Type", b"text/plain")],
    [(b"content-length", b"5")],
    [(b"Transfer-Encoding", b"chunked")],
    [(b"Connection", b"close"), (b"X", b"1")],
    [(b"Connection", b"keep-alive")],
    [(b"Date", b"x"), (b"Server", b"y"), (b"Trailer", b"t")],
]


def _cycle(
    codec: ServerReader,
    method: bytes,
    version: bytes,
    keep_alive: bool,
    status: int,
    fields: list[tuple[bytes, bytes]],
    content_length: int | None,
    close: bool,
    date: bytes | None,
) -> tuple[bytes, bool, int, int]:
    codec._new_exchange()
    codec._request_started(method, version, keep_alive, False)
    out = codec.send_response(
        status, list(fields), content_length=content_length, close=close, date=date, server=b"s"
    )
    body = codec._body
    assert body is not None
    return out, codec._keep_alive, body.kind, body.remaining


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from([b"GET", b"HEAD", b"POST"]),
    version=st.sampled_from([b"1.1", b"1.0"]),
    keep_alive=st.booleans(),
    status=st.sampled_from(STATUSES),
    fields=st.sampled_from(FIELD_SETS),
    content_length=st.sampled_from([None, 0, 5]),
    close=st.booleans(),
    date=st.sampled_from([None, b"Sat, 21 Nov 2026 20:00:00 GMT"]),
)
def test_cached_response_heads_are_the_encoded_ones(
    method: bytes,
    version: bytes,
    keep_alive: bool,
    status: int,
    fields: list[tuple[bytes, bytes]],
    content_length: int | None,
    close: bool,
    date: bytes | None,
) -> None:
    from pyrama_http_core import _codec_write as cw

    codec = HttptoolsServerCodec()
    args = (method, version, keep_alive, status, fields, content_length, close, date)
    cw._HEADS.clear()
    cw._HEADS_SEEN.clear()
    fresh = _cycle(codec, *args)
    for _ in range(3):  # seen once, kept, then answered from the cache
        assert _cycle(codec, *args) == fresh
    assert len(cw._HEADS) == 1


def test_response_heads_with_a_reason_or_a_switch_are_not_cached() -> None:
    from pyrama_http_core import _codec_write as cw

    cw._HEADS.clear()
    cw._HEADS_SEEN.clear()
    codec = HttptoolsServerCodec()
    for _ in range(3):
        codec._new_exchange()
        codec._request_started(b"GET", b"1.1", True, False)
        codec.send_response(200, [], reason=b"Fine", content_length=0)
        codec._new_exchange()
        codec._request_started(b"GET", b"1.1", True, True)  # an Upgrade proposal, declined
        codec.send_response(200, [], content_length=0)
    assert cw._HEADS == {}
    assert set() == cw._HEADS_SEEN


def test_an_invalid_response_head_is_refused_every_time() -> None:
    from pyrama_http_core.errors import HttpProtocolError

    codec = HttptoolsServerCodec()
    for _ in range(3):
        codec._new_exchange()
        codec._request_started(b"GET", b"1.1", True, False)
        with pytest.raises(HttpProtocolError):
            codec.send_response(200, [(b"X", b"a\nb")], content_length=0)


def test_the_response_head_cache_is_bounded() -> None:
    from pyrama_http_core import _codec_write as cw

    cw._HEADS.clear()
    cw._HEADS_SEEN.clear()
    codec = HttptoolsServerCodec()
    for i in range(cw._HEADS_MAX * 5):
        for _ in range(2):
            codec._new_exchange()
            codec._request_started(b"GET", b"1.1", True, False)
            codec.send_response(200, [(b"X-Id", b"%d" % i)], content_length=0)
    assert 1 <= len(cw._HEADS) <= cw._HEADS_MAX
    assert len(cw._HEADS_SEEN) <= 4 * cw._HEADS_MAX


def test_the_fast_request_head_is_a_normal_frozen_request_head() -> None:
    import dataclasses

    from pyrama_http_core._codec import make_request_head

    args = (b"GET", b"/", b"1.1", [(b"Host", b"a")], True, False, 3, False, b"ws")
    fast = make_request_head(*args)
    assert type(fast) is RequestHead
    assert fast == RequestHead(*args)
    assert fast.has_body
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.method = b"POST"  # type: ignore[misc]


def test_the_fast_response_head_is_a_normal_frozen_response_head() -> None:
    import dataclasses

    from pyrama_http_core import ResponseHead
    from pyrama_http_core._codec import make_response_head

    args = (200, b"OK", b"1.1", [(b"Content-Length", b"3")], True, 3, False, True)
    fast = make_response_head(*args)
    assert type(fast) is ResponseHead
    assert fast == ResponseHead(*args)
    assert dataclasses.astuple(fast) == args
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.status = 404  # type: ignore[misc]


def test_seen_twice_cache_keeps_a_key_the_second_time_and_stays_bounded() -> None:
    from pyrama_http_core._seen_twice import SeenTwiceCache

    cache: SeenTwiceCache[str, int] = SeenTwiceCache(2)
    entries = cache.entries
    assert not cache.seen_before("a")
    assert cache.seen_before("a")
    cache.keep("a", 1)
    cache.keep("b", 2)
    cache.keep("c", 3)  # full: emptied first
    assert cache.entries == {"c": 3}
    assert cache.entries is entries  # the same dict for look-ups that hold it
    for i in range(20):
        cache.seen_before(f"k{i}")
    assert len(cache.seen) <= 8
