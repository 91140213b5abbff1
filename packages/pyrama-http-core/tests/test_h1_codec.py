"""The HTTP/1.1 codecs: bytes in / events out, parts in / bytes out.

Every server-side test runs against each server codec (h11 and httptools), every client-side
test against each client codec: one conformance suite, the same events and the same refusals.
"""

from __future__ import annotations

from collections.abc import Callable

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_core.errors import Side
from pyrama_http_core import (
    NEED_DATA,
    PAUSED,
    BodyData,
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    H11ClientCodec,
    H11ServerCodec,
    Http1ClientCodec,
    Http1ServerCodec,
    HttpLimits,
    HttptoolsClientCodec,
    HttptoolsServerCodec,
    InformationalHead,
    RequestHead,
    ResponseHead,
)
from pyrama_http_core.errors import HeaderLimitError, HttpProtocolError

ServerCodecFactory = Callable[..., H11ServerCodec | HttptoolsServerCodec]
"""The ``server_codec`` fixture (conftest.py): each server codec class in turn."""

ClientCodecType = type[H11ClientCodec | HttptoolsClientCodec]
"""The ``client_codec`` fixture (conftest.py): each client codec class in turn."""


def events(codec: H11ServerCodec | H11ClientCodec) -> list[object]:
    out: list[object] = []
    while True:
        ev = codec.next_event()
        out.append(ev)
        if ev is NEED_DATA or ev is PAUSED or isinstance(ev, CodecError | ConnectionClosed):
            return out


def serve_simple(codec: H11ServerCodec, status: int = 200, body: bytes = b"ok") -> bytes:
    out = codec.send_response(status, [(b"X", b"1")], content_length=len(body))
    if codec.response_has_body:
        out += codec.send_data(body)
    return out + codec.send_end()


def test_protocols_are_implemented(server_codec: ServerCodecFactory) -> None:
    assert isinstance(server_codec(), Http1ServerCodec)
    assert isinstance(H11ClientCodec(), Http1ClientCodec)


def test_request_head_keeps_case_order_and_duplicates(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(
        b"GET /p?q=1 HTTP/1.1\r\nhost: a\r\nX-MiXeD-CaSe: 1\r\nx-mixed-case: 2\r\n"
        b"ACCEPT: */*\r\n\r\n"
    )
    head, eom, paused = events(c)
    assert isinstance(head, RequestHead)
    assert head.method == b"GET"
    assert head.target == b"/p?q=1"
    assert head.version == b"1.1"
    assert head.headers == [
        (b"host", b"a"),
        (b"X-MiXeD-CaSe", b"1"),
        (b"x-mixed-case", b"2"),
        (b"ACCEPT", b"*/*"),
    ]
    assert head.keep_alive
    assert not head.expect_continue
    assert not head.has_body
    assert eom == EndOfMessage([])
    assert paused is PAUSED


def test_pipelined_requests_parse_one_exchange_at_a_time(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(3)))
    targets = []
    for _ in range(3):
        evs = events(c)
        assert isinstance(evs[0], RequestHead)
        targets.append(evs[0].target)
        assert evs[-1] is PAUSED
        assert c.request_complete
        serve_simple(c)
    assert targets == [b"/0", b"/1", b"/2"]
    assert c.next_event() is NEED_DATA
    c.receive(b"")
    assert c.next_event() == ConnectionClosed(complete=True)


def test_content_length_body_split_across_reads(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
    head, data, need = events(c)
    assert isinstance(head, RequestHead)
    assert head.content_length == 10
    assert data == BodyData(b"hello")
    assert need is NEED_DATA
    c.receive(b"world")
    assert events(c) == [BodyData(b"world"), EndOfMessage([]), PAUSED]


def test_chunked_body_with_trailers(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    )
    evs = events(c)
    assert isinstance(evs[0], RequestHead)
    assert evs[0].chunked
    assert evs[0].content_length is None
    assert evs[1:] == [
        BodyData(b"hello"),
        BodyData(b" world"),
        EndOfMessage([(b"X-Checksum", b"abc"), (b"X-Other", b"1")]),
        PAUSED,
    ]


def test_eof_inside_a_body_is_an_incomplete_close(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    events(c)
    c.receive(b"")
    assert c.next_event() == ConnectionClosed(complete=False)


def test_higher_http1_minor_version_is_processed_as_1_1(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n")
    head = c.next_event()
    assert isinstance(head, RequestHead)
    assert head.version == b"1.1"
    assert head.keep_alive


def test_leading_empty_lines_are_ignored(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"\r\n\r\n")
    assert c.next_event() is NEED_DATA
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert isinstance(c.next_event(), RequestHead)


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        # request smuggling shapes
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
        # an equal second Content-Length, or a list of equal values: refused by both codecs
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3,3\r\n\r\nabc", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            501,
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
        # obs-fold, bare LF, bad bytes
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\nHost: a\n\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\nX-B: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX A: 1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", 400),
        (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # TLS to a plain port
        # bad chunk framing
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", 400),
    ],
)
def test_malformed_requests_fail_with_a_status_hint(
    raw: bytes, hint: int, server_codec: ServerCodecFactory
) -> None:
    c = server_codec()
    c.receive(raw)
    evs = events(c)
    last = evs[-1]
    assert isinstance(last, CodecError), evs
    assert last.error.hint == hint
    assert last.error.side is Side.REMOTE
    assert not c.keep_alive
    assert c.next_event() is last  # sticky


def test_bare_lf_split_across_reads_is_caught(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    for piece in (b"GET / HTTP/1.1\r", b"\nHost: a", b"\n", b"\r\n"):
        c.receive(piece)
        ev = c.next_event()
        if isinstance(ev, CodecError):
            assert ev.error.hint == 400
            return
    pytest.fail("bare LF not detected")


def test_obs_fold_split_across_reads_is_caught(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    for piece in (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n", b" more\r\n\r\n"):
        c.receive(piece)
        ev = c.next_event()
    assert isinstance(ev, CodecError)


def test_head_size_limit_complete_and_incomplete(server_codec: ServerCodecFactory) -> None:
    limits = HttpLimits(max_header_size=200)
    big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 300 + b"\r\n\r\n"
    c = server_codec(limits)
    c.receive(big)  # complete in one read: h11 alone would accept it
    ev = events(c)[-1]
    assert isinstance(ev, CodecError)
    assert isinstance(ev.error, HeaderLimitError)
    assert ev.error.hint == 431
    c = server_codec(limits)
    c.receive(big[:250])  # incomplete and already too big
    ev = events(c)[-1]
    assert isinstance(ev, CodecError)
    assert ev.error.hint == 431
    c = server_codec(limits)
    c.receive(big[:150])
    assert c.next_event() is NEED_DATA


def test_header_count_limit_on_heads_and_trailers(server_codec: ServerCodecFactory) -> None:
    limits = HttpLimits(max_headers=3)
    c = server_codec(limits)
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    ev = c.next_event()
    assert isinstance(ev, CodecError)
    assert ev.error.hint == 431
    c = server_codec(limits)
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n")
    assert isinstance(c.next_event(), RequestHead)
    c = server_codec(limits)
    c.receive(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"
    )
    ev = events(c)[-1]
    assert isinstance(ev, CodecError)
    assert ev.error.hint == 431


def test_response_head_is_written_exactly_as_given(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    head = c.send_response(
        200,
        [(b"X-MiXeD-CaSe", b"v"), (b"content-TYPE", b"text/plain"), (b"hOsT", b"h")],
        content_length=2,
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\nX-MiXeD-CaSe: v\r\ncontent-TYPE: text/plain\r\nhOsT: h\r\n"
        b"content-length: 2\r\n\r\n"
    )
    assert c.send_data(b"ok") == b"ok"
    assert c.send_end() == b""
    assert c.keep_alive


def test_h11_itself_would_reorder_and_recase() -> None:
    """Why heads are not written by h11: it moves Host first and re-cases framing headers."""
    conn = h11.Connection(h11.CLIENT)
    out = conn.send(
        h11.Request(
            method="GET",
            target="/",
            headers=[("X-First", "1"), ("host", "a"), ("transfer-encoding", "chunked")],
        )
    )
    assert out.index(b"host") < out.index(b"X-First")
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    conn.next_event()
    out = conn.send(h11.Response(status_code=200, headers=[("connection", "close"), ("X-A", "1")]))
    assert out.index(b"X-A") < out.index(b"Connection: close")


def test_chunked_response_with_trailers(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    head = c.send_response(200, [(b"Trailer", b"X-Sum")])
    assert head.endswith(b"transfer-encoding: chunked\r\n\r\n")
    assert c.send_data(b"abc") == b"3\r\nabc\r\n"
    assert c.send_data(b"") == b""
    assert c.send_end([(b"X-Sum", b"9")]) == b"0\r\nX-Sum: 9\r\n\r\n"


def test_content_length_is_enforced_on_send(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    c.send_response(200, [(b"Content-Length", b"3")])
    with pytest.raises(HttpProtocolError) as ei:
        c.send_data(b"abcd")
    assert ei.value.side is Side.LOCAL
    c2 = server_codec()
    c2.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c2)
    c2.send_response(200, [(b"Content-Length", b"3")])
    c2.send_data(b"ab")
    with pytest.raises(HttpProtocolError):
        c2.send_end()


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X-A", b"a\r\nInjected: 1")],
        [(b"X-A", b"a\nb")],
        [(b"X-A", b"a\x00")],
        [(b"X A", b"1")],
        [(b"", b"1")],
        [(b"X:A", b"1")],
        [(b"Transfer-Encoding", b"gzip")],
        [(b"Content-Length", b"1"), (b"Content-Length", b"2")],
        [(b"Content-Length", b"x")],
    ],
)
def test_invalid_outgoing_headers_are_refused(
    headers: list[tuple[bytes, bytes]], server_codec: ServerCodecFactory
) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    with pytest.raises(HttpProtocolError) as ei:
        c.send_response(200, headers)
    assert ei.value.side is Side.LOCAL


def test_transfer_encoding_wins_over_content_length_on_send(
    server_codec: ServerCodecFactory,
) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    head = c.send_response(200, [(b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")])
    assert b"Content-Length" not in head
    assert c.send_data(b"x") == b"1\r\nx\r\n"


def test_head_and_no_content_responses_have_no_body(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    head = c.send_response(200, [], content_length=10)
    assert b"content-length: 10" in head
    assert not c.response_has_body
    assert c.send_end() == b""
    assert c.next_event() is NEED_DATA
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    head = c.send_response(204, [])
    assert b"content-length" not in head.lower()
    assert b"transfer-encoding" not in head.lower()
    assert not c.response_has_body


def test_connection_close_request_and_close_flag(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n")
    head = c.next_event()
    assert isinstance(head, RequestHead)
    assert not head.keep_alive
    events(c)
    out = c.send_response(200, [], content_length=0)
    assert out.endswith(b"connection: close\r\n\r\n")
    c.send_end()
    assert not c.keep_alive
    assert c.next_event() is PAUSED  # nothing more is parsed
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    out = c.send_response(200, [(b"Connection", b"Close")], content_length=0)
    assert out.count(b"onnection") == 1
    assert not c.keep_alive


def test_http10_keep_alive_and_close_delimited(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    head = c.next_event()
    assert isinstance(head, RequestHead)
    assert head.keep_alive
    assert head.version == b"1.0"
    events(c)
    out = c.send_response(200, [], content_length=2)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: keep-alive\r\n" in out
    c.send_data(b"ok")
    c.send_end()
    assert c.keep_alive
    c.receive(b"GET / HTTP/1.0\r\n\r\n")
    head = c.next_event()
    assert isinstance(head, RequestHead)
    assert not head.keep_alive
    events(c)
    out = c.send_response(200, [])  # unknown length for a 1.0 client: close-delimited
    assert b"transfer-encoding" not in out
    assert b"connection: close" in out
    assert c.send_data(b"raw") == b"raw"
    out = server_codec()
    out.receive(b"GET / HTTP/1.0\r\n\r\n")
    events(out)
    head_bytes = out.send_response(200, [(b"Transfer-Encoding", b"chunked")])
    assert b"Transfer-Encoding" not in head_bytes  # de-chunked for HTTP/1.0
    assert out.send_data(b"xy") == b"xy"


def test_expect_100_continue_flag(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    head = c.next_event()
    assert isinstance(head, RequestHead)
    assert head.expect_continue
    assert c.next_event() is NEED_DATA
    assert c.send_informational(100, []) == b"HTTP/1.1 100 Continue\r\n\r\n"
    c.receive(b"ok")
    assert events(c)[:2] == [BodyData(b"ok"), EndOfMessage([])]


def test_upgrade_switch_hands_over_leftover_bytes(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        b"\x81\x05hello"
    )
    head, _eom, paused = events(c)
    assert isinstance(head, RequestHead)
    assert head.upgrade == b"websocket"
    assert paused is PAUSED
    out = c.send_informational(101, [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")])
    assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert c.take_switched() == b"\x81\x05hello"
    assert not c.keep_alive


def test_declined_upgrade_continues_as_http1(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    events(c)
    serve_simple(c)
    with pytest.raises(HttpProtocolError):
        c.take_switched()
    head = c.next_event()
    assert isinstance(head, RequestHead)
    assert head.target == b"/next"


def test_connect_switch_on_2xx_only(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nTLS...")
    head, _eom, _paused = events(c)
    assert isinstance(head, RequestHead)
    assert head.method == b"CONNECT"
    out = c.send_response(200, [])
    assert out == b"HTTP/1.1 200 OK\r\n\r\n"
    assert not c.response_has_body
    c.send_end()
    assert c.take_switched() == b"TLS..."
    c = server_codec()
    c.receive(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    events(c)
    c.send_response(407, [], content_length=0)
    c.send_end()
    assert c.keep_alive
    with pytest.raises(HttpProtocolError):
        c.take_switched()


def test_101_without_upgrade_request_is_refused(server_codec: ServerCodecFactory) -> None:
    c = server_codec()
    c.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    events(c)
    with pytest.raises(HttpProtocolError):
        c.send_informational(101, [])


# -- client codec ---------------------------------------------------------------------------


def test_client_request_written_exactly_and_response_parsed(client_codec: ClientCodecType) -> None:
    c = client_codec()
    out = c.send_request(
        b"POST",
        b"/x",
        [(b"X-MiXeD-CaSe", b"1"), (b"hOST", b"example.com"), (b"x-mixed-case", b"2")],
        content_length=3,
    )
    assert out == (
        b"POST /x HTTP/1.1\r\nX-MiXeD-CaSe: 1\r\nhOST: example.com\r\nx-mixed-case: 2\r\n"
        b"content-length: 3\r\n\r\n"
    )
    assert c.send_data(b"abc") == b"abc"
    assert c.send_end() == b""
    assert c.next_event() is NEED_DATA
    c.receive(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
    head = c.next_event()
    assert isinstance(head, ResponseHead)
    assert head.status == 200
    assert head.reason == b"OK"
    assert head.content_length == 2
    assert head.headers == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"2")]
    assert events(c) == [BodyData(b"hi"), EndOfMessage([]), PAUSED]
    assert c.is_reusable


def test_client_interim_responses_and_head_without_body(client_codec: ClientCodecType) -> None:
    c = client_codec()
    c.send_request(b"HEAD", b"/", [(b"Host", b"a")], content_length=0)
    c.receive(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    )
    evs = events(c)
    assert evs[0] == InformationalHead(100, b"Continue", [])
    assert evs[1] == InformationalHead(103, b"Early Hints", [(b"Link", b"</s.css>")])
    assert isinstance(evs[2], ResponseHead)
    assert not evs[2].has_body
    assert evs[3] == EndOfMessage([])
    assert c.is_reusable


def test_client_chunked_request_and_close_delimited_response(client_codec: ClientCodecType) -> None:
    c = client_codec()
    out = c.send_request(b"PUT", b"/", [(b"Host", b"a")])
    assert out.endswith(b"transfer-encoding: chunked\r\n\r\n")
    assert c.send_data(b"ab") == b"2\r\nab\r\n"
    assert c.send_end([(b"X-T", b"1")]) == b"0\r\nX-T: 1\r\n\r\n"
    c.receive(b"HTTP/1.1 200 OK\r\n\r\nall of it")
    head = c.next_event()
    assert isinstance(head, ResponseHead)
    assert head.has_body
    assert not head.keep_alive
    assert c.next_event() == BodyData(b"all of it")
    assert c.next_event() is NEED_DATA
    c.receive(b"")
    assert c.next_event() == EndOfMessage([])
    assert not c.is_reusable


def test_client_keep_alive_reuse_and_busy(client_codec: ClientCodecType) -> None:
    c = client_codec()
    c.send_request(b"GET", b"/1", [(b"Host", b"a")], content_length=0)
    with pytest.raises(HttpProtocolError):
        c.send_request(b"GET", b"/2", [(b"Host", b"a")], content_length=0)
    c.receive(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert isinstance(c.next_event(), ResponseHead)
    assert c.next_event() == EndOfMessage([])
    assert c.is_reusable
    c.send_request(b"GET", b"/2", [(b"Host", b"a")], content_length=0)
    c.receive(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    head = c.next_event()
    assert isinstance(head, ResponseHead)
    assert not head.keep_alive
    assert c.next_event() == EndOfMessage([])
    assert not c.is_reusable


def test_client_upgrade_and_connect(client_codec: ClientCodecType) -> None:
    c = client_codec()
    c.send_request(
        b"GET",
        b"/",
        [(b"Host", b"a"), (b"Connection", b"Upgrade"), (b"Upgrade", b"echo")],
        content_length=0,
    )
    c.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\nfirst bytes")
    head = c.next_event()
    assert isinstance(head, ResponseHead)
    assert head.status == 101
    assert not head.has_body
    assert c.take_switched() == b"first bytes"
    assert not c.is_reusable
    c = client_codec()
    c.send_request(b"CONNECT", b"a:443", [(b"Host", b"a:443")], content_length=0)
    c.receive(b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03")
    head = c.next_event()
    assert isinstance(head, ResponseHead)
    assert head.status == 200
    assert not head.has_body
    assert c.take_switched() == b"\x16\x03"


def test_client_malformed_response(client_codec: ClientCodecType) -> None:
    c = client_codec()
    c.send_request(b"GET", b"/", [(b"Host", b"a")], content_length=0)
    c.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    ev = c.next_event()
    assert isinstance(ev, CodecError)
    assert ev.error.side is Side.REMOTE
    assert not c.is_reusable


def test_client_refuses_bad_method_or_target(client_codec: ClientCodecType) -> None:
    with pytest.raises(HttpProtocolError):
        client_codec().send_request(b"G T", b"/", [(b"Host", b"a")])
    with pytest.raises(HttpProtocolError):
        client_codec().send_request(b"GET", b"/a b", [(b"Host", b"a")])
    with pytest.raises(HttpProtocolError):
        client_codec().send_request(b"GET", b"/\r\nX: 1", [(b"Host", b"a")])


# -- properties -----------------------------------------------------------------------------

_token = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    min_size=1,
    max_size=12,
).map(str.encode)
_value = (
    st.binary(max_size=20)
    .filter(lambda v: all(0x21 <= b <= 0x7E or b in (0x20, 0x09) for b in v))
    .map(lambda v: v.strip(b" \t"))
)
_reserved = {
    b"content-length",
    b"transfer-encoding",
    b"host",
    b"connection",
    b"upgrade",
    b"expect",
    b"trailer",
    b"te",
}


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(
        st.tuples(_token, _value).filter(lambda kv: kv[0].lower() not in _reserved), max_size=8
    ),
    body=st.lists(st.binary(min_size=1, max_size=50), max_size=4),
    chunked=st.booleans(),
    splits=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=10),
)
def test_client_to_server_round_trip(
    headers: list[tuple[bytes, bytes]],
    body: list[bytes],
    chunked: bool,
    splits: list[int],
    server_codec: ServerCodecFactory,
) -> None:
    client = H11ClientCodec()
    all_headers = [(b"Host", b"example"), *headers]
    total = sum(map(len, body))
    wire = client.send_request(
        b"POST", b"/r", all_headers, content_length=None if chunked else total
    )
    for piece in body:
        wire += client.send_data(piece)
    wire += client.send_end()
    server = server_codec()
    got: list[object] = []
    i = 0
    k = 0
    while i < len(wire):
        n = splits[k % len(splits)]
        k += 1
        server.receive(wire[i : i + n])
        i += n
        while True:
            ev = server.next_event()
            if ev is NEED_DATA or ev is PAUSED:
                break
            assert not isinstance(ev, CodecError), ev
            got.append(ev)
    head = got[0]
    assert isinstance(head, RequestHead)
    assert head.headers[: len(all_headers)] == all_headers
    assert b"".join(e.data for e in got if isinstance(e, BodyData)) == b"".join(body)
    assert got[-1] == EndOfMessage([])


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.binary(max_size=64), max_size=6),
    prefix=st.sampled_from(
        [
            b"",
            b"GET / HTTP/1.1\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
    ),
)
def test_server_codec_never_raises_on_random_bytes(
    data: list[bytes], prefix: bytes, server_codec: ServerCodecFactory
) -> None:
    c = server_codec(HttpLimits(max_header_size=256))
    for piece in [prefix, *data, b""]:
        c.receive(piece)
        for _ in range(100):
            ev = c.next_event()
            if ev is NEED_DATA or ev is PAUSED or isinstance(ev, CodecError | ConnectionClosed):
                break
            if isinstance(ev, EndOfMessage):
                c.send_response(400, [], content_length=0)
                c.send_end()
        else:
            pytest.fail("codec produced events forever")
