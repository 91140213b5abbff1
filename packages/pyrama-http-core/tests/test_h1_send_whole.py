"""``send_whole``: one call gives the bytes and the state of send_response + send_data +
send_end, from the response-head cache or without it, and refuses what they refuse."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_http_core import (
    EndOfMessage,
    H11ServerCodec,
    HttptoolsServerCodec,
    RequestHead,
)
from pyrama_http_core._codec_server import ServerReader
from pyrama_http_core._codec_write import _HEADS, _HEADS_SEEN
from pyrama_http_core.errors import HttpProtocolError

CODECS = [H11ServerCodec, HttptoolsServerCodec]


def _started(cls: type[ServerReader], method: bytes, version: bytes, close: bool) -> ServerReader:
    """A codec that has just read one body-less request."""
    codec = cls()
    conn = b"Connection: close\r\n" if close else b""
    codec.receive(b"%s / HTTP/%s\r\nHost: a\r\n%s\r\n" % (method, version, conn))
    assert type(codec.next_event()) is RequestHead
    assert type(codec.next_event()) is EndOfMessage
    return codec


def _three_calls(
    codec: ServerReader,
    status: int,
    headers: list[tuple[bytes, bytes]],
    data: bytes,
    close: bool,
    date: bytes | None,
) -> bytes:
    out = codec.send_response(
        status, headers, content_length=len(data), close=close, date=date, server=b"pyrama"
    )
    if data and codec.response_has_body:
        out += codec.send_data(data)
    return out + codec.send_end()


def _state(codec: ServerReader) -> tuple[object, ...]:
    return (codec.response_started, codec.response_has_body, codec.keep_alive)


def _outcome(fn: Callable[[], bytes]) -> tuple[str, object]:
    try:
        return ("ok", fn())
    except HttpProtocolError as exc:
        return ("refused", str(exc))


HEADERS = st.lists(
    st.sampled_from(
        [
            (b"content-type", b"text/plain"),
            (b"X-Trace", b"abc"),
            (b"content-length", b"5"),
            (b"Connection", b"close"),
            (b"transfer-encoding", b"chunked"),
            (b"date", b"Mon, 01 Jan 2024 00:00:00 GMT"),
            (b"bad name", b"x"),
            (b"x-bad-value", b"a\r\nb"),
        ]
    ),
    max_size=3,
)


@pytest.mark.parametrize("cls", CODECS)
@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from([b"GET", b"HEAD"]),
    version=st.sampled_from([b"1.1", b"1.0"]),
    request_close=st.booleans(),
    status=st.sampled_from([200, 204, 304, 404, 500]),
    headers=HEADERS,
    data=st.sampled_from([b"", b"hello", b"0123456789"]),
    close=st.booleans(),
    date=st.sampled_from([None, b"Sun, 22 Nov 2026 01:00:00 GMT"]),
    rounds=st.integers(min_value=1, max_value=3),
)
def test_same_bytes_and_state_as_three_calls(
    cls: type[ServerReader],
    method: bytes,
    version: bytes,
    request_close: bool,
    status: int,
    headers: list[tuple[bytes, bytes]],
    data: bytes,
    close: bool,
    date: bytes | None,
    rounds: int,
) -> None:
    # several rounds: the first ones fill the response-head cache, the later ones hit it
    for _ in range(rounds):
        a = _started(cls, method, version, request_close)
        b = _started(cls, method, version, request_close)
        got = _outcome(
            partial(a.send_whole, status, headers, data, close=close, date=date, server=b"pyrama")
        )
        want = _outcome(partial(_three_calls, b, status, headers, data, close, date))
        assert got == want
        if got[0] == "ok":
            assert _state(a) == _state(b)
            assert a._exchange_open == b._exchange_open


@pytest.mark.parametrize("cls", CODECS)
def test_cached_head_is_used_and_state_is_right(cls: type[ServerReader]) -> None:
    _HEADS.clear()
    _HEADS_SEEN.clear()
    headers = [(b"content-type", b"text/plain")]
    outs = []
    for _ in range(3):
        codec = _started(cls, b"GET", b"1.1", False)
        outs.append(codec.send_whole(200, headers, b"hello"))
        assert codec.response_started
        assert codec.response_has_body
        assert codec.keep_alive
        assert not codec._exchange_open  # the exchange is over: the next request may be read
        with pytest.raises(HttpProtocolError, match="already been sent"):
            codec.send_whole(200, headers, b"hello")
        with pytest.raises(HttpProtocolError, match="already ended"):
            codec.send_data(b"more")
    assert outs[0] == outs[1] == outs[2]
    assert outs[0].endswith(b"content-length: 5\r\n\r\nhello")
    assert len(_HEADS) == 1  # seen twice, then kept


@pytest.mark.parametrize("cls", CODECS)
def test_a_cached_head_with_another_length_is_not_reused(cls: type[ServerReader]) -> None:
    headers = [(b"content-length", b"10")]  # the headers' own length wins over the data's
    for _ in range(3):  # cache it
        codec = _started(cls, b"GET", b"1.1", False)
        codec.send_whole(200, headers, b"0123456789")
    codec = _started(cls, b"GET", b"1.1", False)
    with pytest.raises(HttpProtocolError, match="longer than its Content-Length"):
        codec.send_whole(200, [(b"content-length", b"3")], b"0123456789")
    for _ in range(3):
        codec = _started(cls, b"GET", b"1.1", False)
        with pytest.raises(HttpProtocolError, match="short of its Content-Length"):
            codec.send_whole(200, headers, b"01234")


@pytest.mark.parametrize("cls", CODECS)
def test_head_request_gets_no_body_bytes(cls: type[ServerReader]) -> None:
    for _ in range(3):
        codec = _started(cls, b"HEAD", b"1.1", False)
        out = codec.send_whole(200, [], b"hello")
        assert out.endswith(b"content-length: 5\r\n\r\n")
        assert not codec.response_has_body
        assert not codec._exchange_open
