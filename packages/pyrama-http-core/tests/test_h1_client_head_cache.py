"""HttptoolsClientCodec's cache of parsed response heads: same results, own lists, bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_core import CodecError, HttptoolsClientCodec, ResponseHead
from pyrama_http_core import _codec_httptools_client as impl
from pyrama_http_core._codec import ClientEvent
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
