"""ServerReader.receive_next: the events and state of receive() then next_event(), in one call."""

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
from pyrama_http_core._codec_server import HeadCache, ServerReader

CODECS = [H11ServerCodec, HttptoolsServerCodec]
GET = b"GET /poll HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"


def _state(codec: ServerReader) -> tuple[object, ...]:
    return (
        codec.buffered(),
        codec.keep_alive,
        codec.request_complete,
        codec._method,
        codec._version,
        codec._switch,
        codec._phase,
    )


def _drain(codec: ServerReader, ev: object, out: list[object]) -> bool:
    """Record *ev* and the events after it (answering each request); False when it ended."""
    for _ in range(200):
        if isinstance(ev, CodecError):
            out.append(("refused", ev.error.hint))
            return False
        if isinstance(ev, ConnectionClosed):
            out.append(ev)
            return False
        if ev is NEED_DATA:
            out.append(("need", _state(codec)))
            return True
        if ev is PAUSED:
            if not codec.keep_alive:
                out.append("paused")
                return False
        else:
            out.append(ev)
        if isinstance(ev, EndOfMessage) and not codec.response_started:
            codec.send_response(200, [(b"content-length", b"0")])
            codec.send_end()
        ev = codec.next_event()
    raise AssertionError("too many events")


def _run(codec: ServerReader, reads: list[bytes], *, fused: bool) -> list[object]:
    out: list[object] = []
    for data in reads:
        if fused:
            ev = codec.receive_next(data)
        else:
            codec.receive(data)
            ev = codec.next_event()
        if not _drain(codec, ev, out):
            break
    return out


CACHEABLE = [
    GET,
    b"GET /poll HTTP/1.0\r\nHost: a\r\n\r\n",
    b"GET /k HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
    b"HEAD /x HTTP/1.1\r\nhost: b\r\nConnection: close\r\n\r\n",
    b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n",
]
PIECES = [
    *CACHEABLE,
    GET[:10],
    GET[10:],
    GET + GET,
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
    b"abc",
    b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",  # too many fields
    b"GET / HTTP/1.1\r\n\r\n",  # no Host: 400
    b"\r\n" + GET,
    b"",  # the client's EOF
]


@settings(max_examples=300, deadline=None)
@given(
    reads=st.lists(st.sampled_from(PIECES), min_size=1, max_size=8),
    make=st.sampled_from(CODECS),
    small=st.booleans(),
)
def test_receive_next_agrees_with_receive_then_next_event(
    reads: list[bytes], make: type[ServerReader], small: bool
) -> None:
    # a warm cache holding the cacheable heads (each parsed twice), shared as the built-in
    # codecs share theirs; with small limits the cached heads are over this codec's limits
    cache = HeadCache()
    for head in CACHEABLE:
        for _ in range(2):
            warm = make(HttpLimits())
            warm._heads = cache
            _run(warm, [head], fused=False)
    assert set(cache.heads) == set(CACHEABLE)
    limits = HttpLimits(max_headers=1) if small else HttpLimits(max_headers=4)
    plain = make(limits)
    plain._heads = cache
    fused = make(limits)
    fused._heads = cache
    expected = _run(plain, reads, fused=False)
    assert _run(fused, reads, fused=True) == expected
    assert _state(fused) == _state(plain)


@pytest.mark.parametrize("make", CODECS)
def test_a_cached_head_read_alone_is_taken_without_buffering(make: type[ServerReader]) -> None:
    cache = HeadCache()
    codec = make(HttpLimits())
    codec._heads = cache
    first = codec.receive_next(GET)  # parsed: seen once
    assert isinstance(first, RequestHead)
    assert isinstance(codec.next_event(), EndOfMessage)
    codec.send_response(200, [(b"content-length", b"0")])
    codec.send_end()
    assert codec.next_event() is NEED_DATA
    second = codec.receive_next(bytes(bytearray(GET)))  # parsed again: kept from now on
    assert isinstance(codec.next_event(), EndOfMessage)
    codec.send_response(204, [])
    codec.send_end()
    assert codec.next_event() is NEED_DATA
    third = codec.receive_next(bytes(bytearray(GET)))  # a new bytes object, the same head
    assert third is second
    assert third == first
    assert codec.buffered() == 0
    assert codec._method == b"GET"
    assert codec.keep_alive
    assert isinstance(codec.next_event(), EndOfMessage)
    assert codec.request_complete


@pytest.mark.parametrize("make", CODECS)
def test_a_cached_head_over_the_size_limit_is_refused(make: type[ServerReader]) -> None:
    cache = HeadCache()
    for _ in range(2):
        warm = make(HttpLimits())
        warm._heads = cache
        _run(warm, [GET], fused=False)
    small = make(HttpLimits(max_header_size=len(GET) - 1))
    small._heads = cache
    ev = small.receive_next(GET)
    assert isinstance(ev, CodecError)
    assert ev.error.hint == 431
