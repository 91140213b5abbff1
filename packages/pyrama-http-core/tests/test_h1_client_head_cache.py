"""HttptoolsClientCodec's cache of parsed response heads: same results, own lists, bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_core import CodecError, HttptoolsClientCodec, ResponseHead
from pyrama_http_core import _codec_httptools_client as impl
from pyrama_http_core._codec import NEED_DATA, BodyData, ClientEvent, EndOfMessage
from pyrama_http_core.errors import HeaderLimitError

HEAD = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sat, 21 Nov 2026 22:40:00 GMT\r\n"
    b"Content-Length: 5\r\nConnection: keep-alive\r\n\r\n"
)


def head_event(head: bytes, *, max_headers: int = 100, method: bytes = b"GET") -> ClientEvent:
    codec = HttptoolsClientCodec(max_headers=max_headers)
    codec.send_request(method, b"/", [(b"Host", b"a")], content_length=0)
    codec.receive(head)
    return codec.next_event()


def test_a_cached_head_gives_the_same_event_with_its_own_field_list() -> None:
    impl._HEAD_CACHE.clear()
    first = head_event(HEAD + b"hello")
    assert HEAD in impl._HEAD_CACHE
    second = head_event(HEAD + b"hello")
    assert isinstance(first, ResponseHead)
    assert isinstance(second, ResponseHead)
    assert first == second
    assert first.headers is not second.headers
    second.headers.append((b"X", b"y"))
    assert head_event(HEAD) == first


def test_framing_is_decided_per_exchange_on_a_cache_hit() -> None:
    impl._HEAD_CACHE.clear()
    got = head_event(HEAD)
    assert isinstance(got, ResponseHead)
    assert got.has_body
    head = head_event(HEAD, method=b"HEAD")
    assert isinstance(head, ResponseHead)
    assert not head.has_body


def test_the_field_limit_holds_on_a_cache_hit() -> None:
    impl._HEAD_CACHE.clear()
    assert isinstance(head_event(HEAD), ResponseHead)
    refused = head_event(HEAD, max_headers=2)
    assert isinstance(refused, CodecError)
    assert isinstance(refused.error, HeaderLimitError)


def test_refused_and_large_heads_are_not_kept() -> None:
    impl._HEAD_CACHE.clear()
    bad = b"HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n"
    assert isinstance(head_event(bad), CodecError)
    assert isinstance(head_event(bad), CodecError)
    big = b"HTTP/1.1 200 OK\r\nX: " + b"a" * impl._HEAD_CACHE_BYTES + b"\r\n\r\n"
    assert isinstance(head_event(big), ResponseHead)
    assert not impl._HEAD_CACHE


def test_the_cache_is_bounded() -> None:
    impl._HEAD_CACHE.clear()
    for i in range(impl._HEAD_CACHE_MAX + 10):
        got = head_event(b"HTTP/1.1 200 OK\r\nX-N: %d\r\nContent-Length: 0\r\n\r\n" % i)
        assert isinstance(got, ResponseHead)
        assert got.headers[0] == (b"X-N", b"%d" % i)
        assert len(impl._HEAD_CACHE) <= impl._HEAD_CACHE_MAX


@given(
    st.sampled_from([200, 204, 301, 404, 500]),
    st.lists(
        st.tuples(
            st.sampled_from(
                [b"X-A", b"Server", b"content-length", b"Transfer-Encoding", b"Connection"]
            ),
            st.sampled_from([b"1", b"chunked", b"Chunked", b"gzip", b"v w ", b"0", b"close"]),
        ),
        max_size=4,
    ),
)
def test_a_cache_hit_answers_as_a_fresh_parse(
    status: int, fields: list[tuple[bytes, bytes]]
) -> None:
    head = b"HTTP/1.1 %d X\r\n" % status + b"".join(n + b": " + v + b"\r\n" for n, v in fields)
    head += b"\r\n"
    impl._HEAD_CACHE.clear()
    fresh = head_event(head)
    again = head_event(head)
    if isinstance(fresh, CodecError):
        assert isinstance(again, CodecError)
        assert type(again.error) is type(fresh.error)
    else:
        assert again == fresh


def test_a_head_refused_for_its_framing_is_not_kept() -> None:
    impl._HEAD_CACHE.clear()
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"
    for _ in range(2):
        got = head_event(head)
        assert isinstance(got, CodecError)
        assert got.error.hint == 501
    assert not impl._HEAD_CACHE


def test_cached_framing_facts_serve_every_exchange() -> None:
    impl._HEAD_CACHE.clear()
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n"
    for _ in range(2):
        got = head_event(head)
        assert isinstance(got, ResponseHead)
        assert got.chunked
        assert not got.keep_alive
        assert got.headers == [(b"Transfer-Encoding", b"chunked"), (b"Connection", b"close")]


def exchange(codec: HttptoolsClientCodec, data: bytes, method: bytes = b"GET") -> ClientEvent:
    codec.send_request(method, b"/", [(b"Host", b"a")], content_length=0)
    codec.receive(data)
    return codec.next_event()


def finish(codec: HttptoolsClientCodec) -> list[ClientEvent]:
    events = []
    while True:
        ev = codec.next_event()
        events.append(ev)
        if not isinstance(ev, BodyData):
            return events


def test_the_last_head_of_a_connection_answers_as_a_fresh_parse() -> None:
    impl._HEAD_CACHE.clear()
    codec = HttptoolsClientCodec()
    fresh = exchange(codec, HEAD + b"hello")
    assert finish(codec) == [BodyData(b"hello"), EndOfMessage([])]
    assert codec._last is not None
    assert codec._last[0] == HEAD
    impl._HEAD_CACHE.clear()  # the connection's own last head still serves
    again = exchange(codec, HEAD + b"world")
    assert again == fresh
    assert isinstance(again, ResponseHead)
    assert isinstance(fresh, ResponseHead)
    assert again.headers is not fresh.headers
    assert finish(codec) == [BodyData(b"world"), EndOfMessage([])]
    # the framing is still decided per exchange: the same head answers a HEAD without a body
    head = exchange(codec, HEAD, method=b"HEAD")
    assert isinstance(head, ResponseHead)
    assert not head.has_body
    assert finish(codec) == [EndOfMessage([])]
    # bad bytes after the good head: refused as from a fresh codec
    bad = exchange(codec, b"HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n")
    assert isinstance(bad, CodecError)


def test_the_last_head_needs_the_whole_head_and_a_longer_head_is_parsed() -> None:
    impl._HEAD_CACHE.clear()
    codec = HttptoolsClientCodec()
    exchange(codec, HEAD + b"hello")
    finish(codec)
    codec.send_request(b"GET", b"/", [(b"Host", b"a")], content_length=0)
    codec.receive(HEAD[:-2])  # not the whole head yet
    assert codec.next_event() is NEED_DATA
    codec.receive(b"\r\nhello")
    assert isinstance(codec.next_event(), ResponseHead)
    finish(codec)
    longer = HEAD[:-2] + b"X-More: 1\r\n\r\n"  # starts like the last head, ends later
    got = exchange(codec, longer + b"hello")
    assert isinstance(got, ResponseHead)
    assert got.headers[-1] == (b"X-More", b"1")
    assert finish(codec) == [BodyData(b"hello"), EndOfMessage([])]


def test_a_switching_head_kept_last_is_refused_without_a_proposal() -> None:
    impl._HEAD_CACHE.clear()
    switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
    codec = HttptoolsClientCodec()
    codec.send_request(
        b"GET", b"/", [(b"Host", b"a"), (b"Upgrade", b"x"), (b"Connection", b"upgrade")]
    )
    codec.receive(switch)
    assert isinstance(codec.next_event(), ResponseHead)
    other = HttptoolsClientCodec()
    other._last = codec._last  # as if this connection had accepted it before
    refused = exchange(other, switch)
    assert isinstance(refused, CodecError)


@given(
    st.sampled_from([b"", b"hello", b"x" * 70]),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([b"GET", b"HEAD"]),
)
def test_take_whole_body_ends_the_response_as_the_events_do(
    body: bytes, cut: int, method: bytes
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    arrived = body[: max(0, len(body) - cut)] if method == b"GET" else b""
    by_events = HttptoolsClientCodec()
    by_take = HttptoolsClientCodec()
    assert exchange(by_events, head + arrived, method) == exchange(by_take, head + arrived, method)
    events = finish(by_events)
    taken = by_take.take_whole_body()
    complete = method == b"HEAD" or len(arrived) == len(body)
    if complete:
        data = b"".join(e.data for e in events if isinstance(e, BodyData))
        assert events[-1] == EndOfMessage([])
        assert taken == data
        assert by_take.is_reusable == by_events.is_reusable
        assert by_take.next_event() == by_events.next_event()
    else:
        assert taken is None  # nothing changed: the events still come
        assert finish(by_take) == events


def test_take_whole_body_leaves_chunked_and_failed_responses_alone() -> None:
    codec = HttptoolsClientCodec()
    exchange(codec, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert codec.take_whole_body() is None
    assert finish(codec) == [BodyData(b"hello"), EndOfMessage([])]
    codec = HttptoolsClientCodec()
    assert isinstance(exchange(codec, b"HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n"), CodecError)
    assert codec.take_whole_body() is None
