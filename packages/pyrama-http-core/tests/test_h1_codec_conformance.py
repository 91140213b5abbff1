"""Differential conformance of the HTTP/1.1 server codecs: h11 and httptools agree.

Request heads are assembled from pieces that exercise every place where parsers tend to
differ (methods llhttp does not know, target forms, versions, whitespace, framing fields and
their smuggling shapes, bytes outside ASCII), then fed to both codecs in random splits. Both
must accept with identical events (head, body pieces, end) or both refuse. The status hint
of a refusal may differ only when a head has two different faults and the parsers meet them
in a different order; the curated cases in test_h1_codec.py pin the hints.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_http_core import (
    NEED_DATA,
    PAUSED,
    CodecError,
    ConnectionClosed,
    H11ServerCodec,
    HttpLimits,
    HttptoolsServerCodec,
)

METHODS = [b"GET", b"POST", b"HEAD", b"QUERY", b"CONNECT", b"OPTIONS", b"FOO", b"get", b"M-SEARCH"]
TARGETS = [
    b"/",
    b"/a?b=c",
    b"*",
    b"http://x/y",
    b"a:1",
    b"/\x80",
    b'/"',
    b"/{}",
    b"/|",
    b"/#f",
    b"/a%20b",
    b"/~",
    b"x",
    b"//",
    b"/a/../b",
]
VERSIONS = [
    b"HTTP/1.1",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/1.2",
    b"HTTP/2.0",
    b"HTTP/0.9",
    b"HTTP/1.",
]
FIELDS = [
    b"Host: a",
    b"Host:a",
    b"Host: a",
    b"Host : a",
    b"Host:",
    b"X: a ",
    b"X: \x80",
    b"X:\ta",
    b"X: a\tb",
    b"Content-Length: 3",
    b"Content-Length: 0",
    b"Content-Length: +3",
    b"Content-Length: 3 ",
    b"Content-Length: 3,3",
    b"Content-Length: 99999999999999999999",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: Chunked",
    b": a",
    b"X a: b",
    b"\x80X: y",
    b"Connection: close",
    b"Connection: keep-alive",
    b"Connection: upgrade",
    b"Upgrade: websocket",
    b"Expect: 100-continue",
    b"X-Y_Z: 1",
    b"X:y:z",
    b"x-MiXeD: Case",
]
BODIES = [b"", b"abc", b"3\r\nabc\r\n0\r\n\r\n", b"3\r\nabc\r\n0\r\nT: 1\r\n\r\n", b"zz\r\n"]


def _events(codec: H11ServerCodec | HttptoolsServerCodec, pieces: list[bytes]) -> list[object]:
    out: list[object] = []
    for piece in [*pieces, b""]:
        codec.receive(piece)
        for _ in range(50):
            ev = codec.next_event()
            if isinstance(ev, CodecError):
                out.append(("refused", ev.error.hint))
                return out
            if ev is NEED_DATA:
                break
            out.append(ev)
            if ev is PAUSED or isinstance(ev, ConnectionClosed):
                return out
    return out


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return [p for p in pieces if p]


@settings(max_examples=1500, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    target=st.sampled_from(TARGETS),
    version=st.sampled_from(VERSIONS),
    fields=st.lists(st.sampled_from(FIELDS), max_size=5),
    body=st.sampled_from(BODIES),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=4),
)
def test_codecs_accept_and_refuse_alike(
    method: bytes,
    target: bytes,
    version: bytes,
    fields: list[bytes],
    body: bytes,
    cuts: list[int],
) -> None:
    raw = b"%s %s %s\r\n%s\r\n%s" % (
        method,
        target,
        version,
        b"".join(f + b"\r\n" for f in fields),
        body,
    )
    pieces = _split(raw, cuts)
    limits = HttpLimits(max_header_size=4096, max_headers=4)
    via_h11 = _events(H11ServerCodec(limits), pieces)
    via_httptools = _events(HttptoolsServerCodec(limits), pieces)
    refused_h11 = bool(via_h11) and isinstance(via_h11[-1], tuple)
    refused_httptools = bool(via_httptools) and isinstance(via_httptools[-1], tuple)
    assert refused_h11 == refused_httptools, (raw, via_h11, via_httptools)
    if not refused_h11:
        assert via_h11 == via_httptools, raw
