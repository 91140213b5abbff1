"""The h11 server codec parses heads with h11's reader directly, or through h11.Connection.

The direct path is the default; the other one takes over if a future h11 moves its reader.
Both must give the same events for any input, which a differential property test checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_http_core import (
    NEED_DATA,
    PAUSED,
    BodyData,
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    H11ServerCodec,
    HttpLimits,
    RequestHead,
    _codec_h11,
)

LIMITS = HttpLimits(max_header_size=400, max_headers=8)


@pytest.fixture
def via_connection() -> Iterator[None]:
    saved = _codec_h11._USE_H11_READER
    _codec_h11._USE_H11_READER = False
    try:
        yield
    finally:
        _codec_h11._USE_H11_READER = saved


def _codec(direct: bool) -> H11ServerCodec:
    saved = _codec_h11._USE_H11_READER
    _codec_h11._USE_H11_READER = direct
    try:
        return H11ServerCodec(LIMITS)
    finally:
        _codec_h11._USE_H11_READER = saved


def _comparable(ev: object) -> object:
    if isinstance(ev, CodecError):
        err = ev.error
        return ("error", type(err).__name__, err.hint, str(err))
    return ev


def _run(codec: H11ServerCodec, chunks: list[bytes]) -> list[object]:
    """Feed *chunks*, answer every complete request, and record every event."""
    out: list[object] = []
    for chunk in [*chunks, b""]:
        codec.receive(chunk)
        for _ in range(200):  # bounded: a codec that loops would fail the test, not hang it
            ev = codec.next_event()
            out.append(_comparable(ev))
            if ev is NEED_DATA or isinstance(ev, CodecError | ConnectionClosed):
                break
            if ev is PAUSED:
                if not codec.request_complete or codec.response_started:
                    break
                status = 200
                codec.send_response(status, [(b"content-length", b"2")])
                codec.send_data(b"ok")
                codec.send_end()
                if not codec.keep_alive:
                    break
        else:
            pytest.fail("the codec kept producing events")
        if out and isinstance(out[-1], tuple | ConnectionClosed):
            break
    return out


PIECES = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /x?y=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"2\r\nab\r\n0\r\nX-T: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Name: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"\r\n",
    b"zz",
    b"5\r\nhello\r\n",
    b"0\r\n\r\n",
]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=5),
    noise=st.binary(max_size=20),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=8),
)
def test_both_paths_give_the_same_events(
    pieces: list[bytes], noise: bytes, cuts: list[int]
) -> None:
    data = b"".join(pieces) + noise
    chunks: list[bytes] = []
    pos = 0
    for n in cuts:
        if pos >= len(data):
            break
        chunks.append(data[pos : pos + n])
        pos += n
    if pos < len(data):
        chunks.append(data[pos:])
    assert _run(_codec(True), chunks) == _run(_codec(False), chunks)


@pytest.mark.usefixtures("via_connection")
def test_connection_path_parses_and_rejects() -> None:
    c = H11ServerCodec(LIMITS)
    c.receive(b"GET /a HTTP/1.1\r\nHost: h\r\nX-Y: 1\r\n\r\n")
    head = c.next_event()
    assert isinstance(head, RequestHead)
    assert (head.method, head.target, head.headers) == (
        b"GET",
        b"/a",
        [(b"Host", b"h"), (b"X-Y", b"1")],
    )
    assert c.next_event() == EndOfMessage([])
    bad = H11ServerCodec(LIMITS)
    bad.receive(b"GET / HTTP/1.1\r\n\r\n")
    ev = bad.next_event()
    assert isinstance(ev, CodecError)
    assert ev.error.hint == 400
    assert "Host" in str(ev.error)


def test_direct_path_is_the_default() -> None:
    assert _codec_h11._USE_H11_READER


def test_chunked_body_leftover_goes_to_the_next_request() -> None:
    c = H11ServerCodec(LIMITS)
    c.receive(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    assert isinstance(c.next_event(), RequestHead)
    assert c.next_event() == BodyData(b"abc")
    assert c.next_event() == EndOfMessage([])
    assert c.next_event() is PAUSED
    c.send_response(204, [])
    c.send_end()
    nxt = c.next_event()
    assert isinstance(nxt, RequestHead)
    assert nxt.target == b"/next"


def test_content_length_body_is_cut_at_its_length() -> None:
    c = H11ServerCodec(LIMITS)
    c.receive(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET")
    assert isinstance(c.next_event(), RequestHead)
    assert c.next_event() == BodyData(b"abc")
    assert c.next_event() == EndOfMessage([])
    assert c.next_event() is PAUSED
    c.send_response(204, [])
    c.send_end()
    assert c.next_event() is NEED_DATA
    c.receive(b" / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert isinstance(c.next_event(), RequestHead)
