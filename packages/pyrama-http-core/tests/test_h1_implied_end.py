"""A request without a body is complete with its head: its EndOfMessage is implied once answered."""

from __future__ import annotations

import pytest

from pyrama_http_core import (
    NEED_DATA,
    EndOfMessage,
    H11ServerCodec,
    HttpLimits,
    HttptoolsServerCodec,
    RequestHead,
)
from pyrama_http_core._codec_server import ServerReader
from pyrama_http_core.errors import HttpProtocolError

CODECS = [H11ServerCodec, HttptoolsServerCodec]
GET = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
POST = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"


def _answer(codec: ServerReader) -> bytes:
    return codec.send_whole(200, [], b"ok")


@pytest.mark.parametrize("make", CODECS)
def test_answered_first_the_next_request_follows_without_an_end_event(
    make: type[ServerReader],
) -> None:
    assert make.EMPTY_END_IMPLIED is True
    codec = make(HttpLimits())
    codec.receive(GET + GET.replace(b"/a", b"/b"))
    first = codec.next_event()
    assert isinstance(first, RequestHead)
    assert codec.request_complete  # no body: complete with its head
    assert _answer(codec).startswith(b"HTTP/1.1 200")
    second = codec.next_event()  # not an EndOfMessage: it was implied
    assert isinstance(second, RequestHead)
    assert second.target == b"/b"
    _answer(codec)
    assert codec.next_event() is NEED_DATA
    assert codec.keep_alive


@pytest.mark.parametrize("make", CODECS)
def test_asked_for_before_the_answer_the_end_still_comes(make: type[ServerReader]) -> None:
    codec = make(HttpLimits())
    codec.receive(GET + GET)
    assert isinstance(codec.next_event(), RequestHead)
    assert isinstance(codec.next_event(), EndOfMessage)
    assert codec.request_complete
    _answer(codec)
    assert isinstance(codec.next_event(), RequestHead)  # then the next request, as before
    assert isinstance(codec.next_event(), EndOfMessage)


@pytest.mark.parametrize("make", CODECS)
def test_a_request_with_a_body_is_not_complete_with_its_head(make: type[ServerReader]) -> None:
    codec = make(HttpLimits())
    codec.receive(POST)
    assert isinstance(codec.next_event(), RequestHead)
    assert not codec.request_complete
    # answering before reading the body does not skip it: the body comes, then its end
    _answer(codec)
    assert codec.next_event().data == b"hi"  # type: ignore[union-attr]
    assert isinstance(codec.next_event(), EndOfMessage)
    assert codec.request_complete


@pytest.mark.parametrize("make", CODECS)
def test_connect_switches_without_its_end_being_asked_for(make: type[ServerReader]) -> None:
    codec = make(HttpLimits())
    codec.receive(b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\ntunnelled")
    assert isinstance(codec.next_event(), RequestHead)
    with pytest.raises(HttpProtocolError):
        codec.take_switched()  # no 2xx yet
    codec.send_response(200, [])
    assert codec.take_switched() == b"tunnelled"


@pytest.mark.parametrize("make", CODECS)
def test_a_switching_request_with_an_unread_body_cannot_switch(make: type[ServerReader]) -> None:
    codec = make(HttpLimits())
    codec.receive(b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 2\r\n\r\nhi")
    assert isinstance(codec.next_event(), RequestHead)
    codec.send_response(200, [])
    with pytest.raises(HttpProtocolError, match="body has not been read"):
        codec.take_switched()
