"""The HTTP/1.1 client codecs on response shapes, limits and refusals.

Tests taking ``client_codec`` run against both client codecs (h11 and httptools) and pin the
behaviour they share; the others pin what only :class:`HttptoolsClientCodec` does (its
documented, stricter differences and its own limits).
"""

from __future__ import annotations

import pytest

from pyrama_http_core import (
    NEED_DATA,
    PAUSED,
    BodyData,
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    H11ClientCodec,
    Http1ClientConfig,
    HttptoolsClientCodec,
    InformationalHead,
    ResponseHead,
)
from pyrama_http_core import _config as http_config
from pyrama_http_core._codec import ClientEvent
from pyrama_http_core.errors import HeaderLimitError, HttpProtocolError

ClientCodecType = type[H11ClientCodec | HttptoolsClientCodec]


def drain(codec: H11ClientCodec | HttptoolsClientCodec) -> list[ClientEvent]:
    out: list[ClientEvent] = []
    while True:
        ev = codec.next_event()
        out.append(ev)
        if ev is NEED_DATA or ev is PAUSED or isinstance(ev, CodecError | ConnectionClosed):
            return out


def body_of(events: list[ClientEvent]) -> bytes:
    return b"".join(ev.data for ev in events if isinstance(ev, BodyData))


def get(codec: H11ClientCodec | HttptoolsClientCodec, method: bytes = b"GET") -> None:
    codec.send_request(method, b"/", [(b"Host", b"a")], content_length=0)


def test_the_default_client_codec_is_httptools_and_can_be_switched() -> None:
    cfg = Http1ClientConfig(max_header_size=1000, max_headers=7)
    codec = cfg.codec_factory(cfg)
    assert isinstance(codec, HttptoolsClientCodec)
    assert codec._head_limit == 1000
    assert codec._max_headers == 7
    saved = http_config._client_codec_type
    http_config._client_codec_type = H11ClientCodec
    try:
        assert isinstance(cfg.codec_factory(cfg), H11ClientCodec)
    finally:
        http_config._client_codec_type = saved


def test_every_split_of_a_chunked_response_gives_the_same_events(
    client_codec: ClientCodecType,
) -> None:
    wire = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1 \r\n\r\n"
        b"5;name=value\r\nhello\r\n1 \r\n \r\n6\r\nworld!\r\n0\r\nX-Sum: 42\r\nX-B: b\r\n\r\n"
    )
    for cut in range(len(wire) + 1):
        codec = client_codec()
        get(codec)
        events: list[ClientEvent] = []
        for piece in (wire[:cut], wire[cut:]):
            if piece:  # (an empty piece would mean the end of the stream)
                codec.receive(piece)
                events += [ev for ev in drain(codec) if ev is not NEED_DATA]
        assert events[0] == InformationalHead(103, b"Early Hints", [(b"Link", b"</a>")])
        head = next(ev for ev in events if isinstance(ev, ResponseHead))
        assert head.chunked
        assert head.headers == [(b"Transfer-Encoding", b"chunked"), (b"X-A", b"1")]
        assert body_of(events) == b"hello world!"
        assert events[-2] == EndOfMessage([(b"X-Sum", b"42"), (b"X-B", b"b")])
        assert events[-1] is PAUSED
        assert codec.is_reusable


def test_content_length_body_across_reads_and_eof_inside_it(
    client_codec: ClientCodecType,
) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123")
    evs = drain(codec)
    assert isinstance(evs[0], ResponseHead)
    assert evs[0].content_length == 10
    assert body_of(evs) == b"0123"
    assert evs[-1] is NEED_DATA
    codec.receive(b"456")
    assert drain(codec) == [BodyData(b"456"), NEED_DATA]
    codec.receive(b"")
    assert drain(codec) == [ConnectionClosed(complete=False)]
    assert not codec.is_reusable


def test_eof_inside_a_chunked_body(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    codec.receive(b"")
    evs = drain(codec)
    assert body_of(evs) == b"ab"
    assert evs[-1] == ConnectionClosed(complete=False)


def test_bytes_after_a_response_wait_for_the_next_exchange(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
        b"HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nB"
    )
    evs = drain(codec)
    assert [type(ev) for ev in evs] == [ResponseHead, BodyData, EndOfMessage, type(PAUSED)]
    assert codec.is_reusable
    get(codec)
    evs = drain(codec)
    assert isinstance(evs[0], ResponseHead)
    assert evs[0].status == 201
    assert body_of(evs) == b"B"


@pytest.mark.parametrize(
    ("response", "hint"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            501,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 400),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 400),
        (b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", 400),
        (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", 400),
        (b"HTTP/1.1 2000 OK\r\n\r\n", 400),
        (b"HTTP/1.1 200 O\x00K\r\n\r\n", 400),
        (b"\x00HTTP/1.1 200 OK\r\n\r\n", 400),
        (b"HTTX/1.1 200 OK\r\n\r\n", 400),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 400),  # never proposed
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", 400),
    ],
)
def test_malformed_responses_are_refused_alike(
    client_codec: ClientCodecType, response: bytes, hint: int
) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(response)
    ev = drain(codec)[-1]
    assert isinstance(ev, CodecError), ev
    assert type(ev.error) is HttpProtocolError
    assert ev.error.hint == hint
    assert codec.next_event() is ev  # the same error again: the connection is done
    assert not codec.is_reusable


def test_content_length_with_chunked_lets_chunked_win(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    evs = drain(codec)
    head = evs[0]
    assert isinstance(head, ResponseHead)
    assert head.chunked
    assert head.content_length is None
    assert head.headers == [(b"Content-Length", b"100"), (b"Transfer-Encoding", b"chunked")]
    assert body_of(evs) == b"ok"
    assert evs[-2] == EndOfMessage([])


@pytest.mark.parametrize(
    ("method", "status"), [(b"HEAD", 200), (b"GET", 204), (b"GET", 304), (b"HEAD", 404)]
)
def test_responses_without_a_body_ignore_their_framing_fields(
    client_codec: ClientCodecType, method: bytes, status: int
) -> None:
    codec = client_codec()
    get(codec, method)
    codec.receive(b"HTTP/1.1 %d X\r\nContent-Length: 50\r\n\r\n" % status)
    evs = drain(codec)
    head = evs[0]
    assert isinstance(head, ResponseHead)
    assert not head.has_body
    assert evs[1:] == [EndOfMessage([]), PAUSED]
    assert codec.is_reusable


def test_connect_2xx_hands_over_the_bytes_after_the_head(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    codec.send_request(b"CONNECT", b"a:443", [(b"Host", b"a:443")], content_length=0)
    codec.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\x16\x03\x01")
    codec.receive(b"\x00\x05")
    head = codec.next_event()
    assert isinstance(head, ResponseHead)
    assert not head.has_body
    assert head.content_length is None
    assert codec.take_switched() == b"\x16\x03\x01\x00\x05"
    assert not codec.is_reusable


def test_connect_refused_is_an_ordinary_response(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    codec.send_request(b"CONNECT", b"a:443", [(b"Host", b"a:443")], content_length=0)
    codec.receive(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
    evs = drain(codec)
    assert isinstance(evs[0], ResponseHead)
    assert evs[0].has_body
    assert body_of(evs) == b"no"
    with pytest.raises(HttpProtocolError):
        codec.take_switched()


def test_http10_keep_alive_and_close(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
    head = codec.next_event()
    assert isinstance(head, ResponseHead)
    assert head.keep_alive
    assert head.version == b"1.0"
    assert codec.next_event() == EndOfMessage([])
    assert codec.is_reusable
    get(codec)
    codec.receive(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    head = codec.next_event()
    assert isinstance(head, ResponseHead)
    assert not head.keep_alive
    assert codec.next_event() == EndOfMessage([])
    assert not codec.is_reusable


def test_close_delimited_body_ends_with_the_stream(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\n\r\nsome")
    codec.receive(b" more")
    evs = drain(codec)
    assert isinstance(evs[0], ResponseHead)
    assert not evs[0].keep_alive
    codec.receive(b"")
    evs += drain(codec)
    assert body_of(evs) == b"some more"
    assert evs[-2:] == [EndOfMessage([]), ConnectionClosed(complete=True)]


def test_no_response_at_all(client_codec: ClientCodecType) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(b"HTTP/1.1 200 O")
    assert codec.next_event() is NEED_DATA
    codec.receive(b"")
    assert codec.next_event() == ConnectionClosed(complete=False)
    assert not codec.is_reusable


# -- limits ----------------------------------------------------------------------------------


def test_incomplete_head_over_the_size_limit(client_codec: ClientCodecType) -> None:
    codec = client_codec(max_header_size=100)
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200)
    ev = codec.next_event()
    assert isinstance(ev, CodecError)
    assert isinstance(ev.error, HeaderLimitError)
    assert ev.error.hint == 431


def test_header_count_limit_on_heads_and_trailers(client_codec: ClientCodecType) -> None:
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(4))
    codec = client_codec(max_headers=3)
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n")
    ev = codec.next_event()
    assert isinstance(ev, CodecError)
    assert isinstance(ev.error, HeaderLimitError)
    codec = client_codec(max_headers=3)
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + fields + b"\r\n")
    ev = drain(codec)[-1]
    assert isinstance(ev, CodecError)
    assert isinstance(ev.error, HeaderLimitError)
    codec = client_codec(max_headers=4)  # exactly at the limit is fine
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + fields[:-8] + b"\r\n")
    assert isinstance(codec.next_event(), ResponseHead)


def test_httptools_bounds_complete_heads_and_trailer_sections_too() -> None:
    codec = HttptoolsClientCodec(max_header_size=100)
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 100 + b"\r\n\r\n")
    ev = codec.next_event()
    assert isinstance(ev, CodecError)
    assert isinstance(ev.error, HeaderLimitError)
    assert ev.error.limit == 100
    codec = HttptoolsClientCodec(max_header_size=100)
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + b"a" * 100)
    ev = drain(codec)[-1]
    assert isinstance(ev, CodecError)
    assert isinstance(ev.error, HeaderLimitError)
    codec = HttptoolsClientCodec(max_header_size=100)
    get(codec)
    codec.receive(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + b"a" * 98 + b"\r\n\r\n"
    )
    ev = drain(codec)[-1]
    assert isinstance(ev, CodecError)
    assert isinstance(ev.error, HeaderLimitError)


def test_httptools_bounds_a_chunk_size_line() -> None:
    codec = HttptoolsClientCodec()
    get(codec)
    codec.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"x" * 5000)
    ev = drain(codec)[-1]
    assert isinstance(ev, CodecError)
    assert "chunk-size line" in str(ev.error)


# -- the documented, stricter differences ----------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\na",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: a\r\n b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: a\x01b\r\n\r\n",
    ],
)
def test_httptools_refuses_what_h11_tolerates(response: bytes) -> None:
    lenient = H11ClientCodec()
    get(lenient)
    lenient.receive(response)
    assert isinstance(lenient.next_event(), ResponseHead)
    strict = HttptoolsClientCodec()
    get(strict)
    strict.receive(response)
    ev = strict.next_event()
    assert isinstance(ev, CodecError)
    assert type(ev.error) is HttpProtocolError


@pytest.mark.parametrize("version", [b"1.2", b"2.0", b"0.9"])
def test_other_http_versions_are_parsed_without_keep_alive(
    client_codec: ClientCodecType, version: bytes
) -> None:
    codec = client_codec()
    get(codec)
    codec.receive(b"HTTP/" + version + b" 200 OK\r\nContent-Length: 2\r\n\r\nok")
    evs = drain(codec)
    head = evs[0]
    assert isinstance(head, ResponseHead)
    assert head.version == version
    assert not head.keep_alive
    assert body_of(evs) == b"ok"
    assert not codec.is_reusable
