"""HTTP/2 request validation done by the server driver (h2's own inbound checks are off).

Every malformed request head (RFC 9113 8.1.1, 8.2, 8.3) is refused with
RST_STREAM(PROTOCOL_ERROR) on its stream only: the next request on the same connection is
served (so the HPACK state stayed in step). Malformed trailers reset their stream too. And
every response carries a ``date`` field unless the config says otherwise.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

import hpack
import pytest
from h2_support import h2_pair, loopback_server

from pyrama_core.errors import ConfigError
from pyrama_http_core import H2_PREFACE, H2ServerConfig, HttpLimits, _h2_server
from pyrama_http_core._h2_frames import encode_settings
from pyrama_http_types import HeaderMap, Request, Response

PROTOCOL_ERROR = 0x1
END_STREAM = 0x1
END_HEADERS = 0x4
GUARD = 10.0
IMF_FIXDATE = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT"
)

Fields = list[tuple[bytes, bytes]]

GOOD: Fields = [
    (b":method", b"GET"),
    (b":path", b"/"),
    (b":scheme", b"http"),
    (b":authority", b"t"),
]


async def echo(req: Request) -> Response:
    """Answers with the body it read and the number of trailer fields."""
    body = await req.body.collect()
    trailers = req.body.trailers
    return Response.text(f"{len(body)} {0 if trailers is None else len(trailers)}")


def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    """One raw frame."""
    return struct.pack(">IBI", (len(payload) << 8) | ftype, flags, sid) + payload


def split_frames(raw: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, stream id, payload) of every complete frame in *raw*."""
    out = []
    i = 0
    while i + 9 <= len(raw):
        length = int.from_bytes(raw[i : i + 3], "big")
        if i + 9 + length > len(raw):
            break
        sid = int.from_bytes(raw[i + 5 : i + 9], "big") & 0x7FFFFFFF
        out.append((raw[i + 3], raw[i + 4], sid, raw[i + 9 : i + 9 + length]))
        i += 9 + length
    return out


class Peer:
    """A raw HTTP/2 client: hand-made frames, HPACK by the hpack library (no checks)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.raw = b""

    @classmethod
    async def connect(cls, port: int) -> Peer:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        peer = cls(sock)
        await peer.send(H2_PREFACE + encode_settings([]))
        return peer

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    def headers(self, sid: int, fields: Fields, flags: int = END_STREAM | END_HEADERS) -> bytes:
        return frame(0x1, flags, sid, self.encoder.encode(fields))

    async def until_stream_done(
        self, sid: int, *, head: bool = False
    ) -> list[tuple[int, int, int, bytes]]:
        """Read until stream *sid* ends (END_STREAM, RST_STREAM; with *head*: HEADERS)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GUARD
        while loop.time() < deadline:
            for t, flags, s, _ in split_frames(self.raw):
                ended = t in (0x0, 0x1) and (flags & END_STREAM or (head and t == 0x1))
                if s == sid and (t == 0x3 or ended):
                    return split_frames(self.raw)
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 16), GUARD)
            if not data:
                break
            self.raw += data
        return split_frames(self.raw)

    def status(self, frames: list[tuple[int, int, int, bytes]], sid: int) -> bytes | None:
        for t, _, s, payload in frames:
            if t == 0x1 and s == sid:
                return dict(self.decoder.decode(payload, raw=True)).get(b":status")
        return None


def rst_code(frames: list[tuple[int, int, int, bytes]], sid: int) -> int | None:
    for t, _, s, payload in frames:
        if t == 0x3 and s == sid:
            return int(struct.unpack(">I", payload)[0])
    return None


MALFORMED: dict[str, Fields] = {
    "uppercase name": [*GOOD, (b"X-Up", b"1")],
    "space in name": [*GOOD, (b"x y", b"1")],
    "colon in name": [*GOOD, (b"x:y", b"1")],
    "empty name": [*GOOD, (b"", b"1")],
    "non-ascii name": [*GOOD, (b"x\xff", b"1")],
    "CR in value": [*GOOD, (b"x", b"a\rb")],
    "LF in value": [*GOOD, (b"x", b"a\nb")],
    "NUL in value": [*GOOD, (b"x", b"a\x00b")],
    "leading space": [*GOOD, (b"x", b" a")],
    "trailing tab": [*GOOD, (b"x", b"a\t")],
    "connection": [*GOOD, (b"connection", b"keep-alive")],
    "transfer-encoding": [*GOOD, (b"transfer-encoding", b"chunked")],
    "upgrade": [*GOOD, (b"upgrade", b"h2c")],
    "te gzip": [*GOOD, (b"te", b"gzip")],
    "pseudo after regular": [*GOOD[:3], (b"x", b"1"), GOOD[3]],
    "duplicate :path": [*GOOD, (b":path", b"/b")],
    "duplicate :method": [(b":method", b"GET"), *GOOD],
    "unknown pseudo": [*GOOD, (b":foo", b"1")],
    ":status in a request": [*GOOD, (b":status", b"200")],
    "no :method": GOOD[1:],
    "no :path": [GOOD[0], GOOD[2], GOOD[3]],
    "no :scheme": [GOOD[0], GOOD[1], GOOD[3]],
    "empty :path": [GOOD[0], (b":path", b""), GOOD[2], GOOD[3]],
    "CR in :path": [GOOD[0], (b":path", b"/a\rb"), GOOD[2], GOOD[3]],
    "no authority nor host": GOOD[:3],
    "two hosts": [*GOOD[:3], (b"host", b"t"), (b"host", b"t")],
    "host differs": [*GOOD, (b"host", b"other")],
    "CONNECT with :path": [(b":method", b"CONNECT"), (b":authority", b"t:1"), (b":path", b"/")],
    ":protocol without CONNECT": [*GOOD, (b":protocol", b"websocket")],
}


@pytest.mark.parametrize("fields", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_request_is_refused_with_protocol_error(fields: Fields) -> None:
    async with loopback_server(echo) as srv:
        peer = await Peer.connect(srv.port)
        try:
            # a good request first fills the server's caches of checked fields
            await peer.send(peer.headers(1, GOOD))
            frames = await peer.until_stream_done(1)
            assert peer.status(frames, 1) == b"200"
            await peer.send(peer.headers(3, fields) + peer.headers(5, GOOD))
            frames = await peer.until_stream_done(5)
            assert rst_code(frames, 3) == PROTOCOL_ERROR
            assert peer.status(frames, 3) is None
            assert peer.status(frames, 5) == b"200"  # same connection: only the stream died
            assert not any(t == 0x7 for t, _, _, _ in frames)  # no GOAWAY
        finally:
            peer.sock.close()


WELL_FORMED: dict[str, Fields] = {
    "host equals :authority": [*GOOD, (b"host", b"t")],
    "host without :authority": [*GOOD[:3], (b"host", b"t")],
    "te trailers": [*GOOD, (b"te", b"trailers")],
    "empty value": [*GOOD, (b"x-empty", b"")],
    "inner space": [*GOOD, (b"x", b"a b")],
    "CONNECT": [(b":method", b"CONNECT"), (b":authority", b"t:1")],
}


@pytest.mark.parametrize("fields", WELL_FORMED.values(), ids=WELL_FORMED.keys())
async def test_well_formed_request_is_served(fields: Fields) -> None:
    async with loopback_server(echo) as srv:
        peer = await Peer.connect(srv.port)
        try:
            await peer.send(peer.headers(1, fields))
            frames = await peer.until_stream_done(1, head=fields[0][1] == b"CONNECT")
            assert rst_code(frames, 1) is None
            assert peer.status(frames, 1) == b"200"
        finally:
            peer.sock.close()


TRAILERS: dict[str, Fields] = {
    "pseudo-header": [(b":path", b"/")],
    "uppercase": [(b"X-Sum", b"1")],
    "CR in value": [(b"x-sum", b"1\r2")],
    "connection-specific": [(b"connection", b"close")],
}


@pytest.mark.parametrize("trailers", TRAILERS.values(), ids=TRAILERS.keys())
async def test_malformed_trailers_reset_the_stream(trailers: Fields) -> None:
    async with loopback_server(echo) as srv:
        peer = await Peer.connect(srv.port)
        try:
            post = [(b":method", b"POST"), *GOOD[1:]]
            await peer.send(
                peer.headers(1, post, END_HEADERS)
                + frame(0x0, 0, 1, b"abc")
                + peer.headers(1, trailers)
                + peer.headers(3, GOOD)
            )
            frames = await peer.until_stream_done(3)
            assert rst_code(frames, 1) == PROTOCOL_ERROR
            assert peer.status(frames, 3) == b"200"
        finally:
            peer.sock.close()


async def test_good_trailers_reach_the_service() -> None:
    async with loopback_server(echo) as srv:
        peer = await Peer.connect(srv.port)
        try:
            post = [(b":method", b"POST"), *GOOD[1:]]
            await peer.send(
                peer.headers(1, post, END_HEADERS)
                + frame(0x0, 0, 1, b"abc")
                + peer.headers(1, [(b"x-sum", b"1"), (b"x-other", b"2")])
            )
            frames = await peer.until_stream_done(1)
            assert peer.status(frames, 1) == b"200"
            body = b"".join(p for t, _, s, p in frames if t == 0x0 and s == 1)
            assert body == b"3 2"
        finally:
            peer.sock.close()


# -- the date field -------------------------------------------------------------------------


async def hello(req: Request) -> Response:
    """Hello, with a fixed date on /dated."""
    resp = Response.text("hello")
    if req.uri.path == "/dated":
        resp.headers.set("Date", "Sun, 06 Nov 1994 08:49:37 GMT")
    return resp


async def test_responses_carry_a_date() -> None:
    async with h2_pair(hello) as (client, _):
        resp = await client.send_request(Request("GET", "http://t/"))
        await resp.body.collect()
    values = resp.headers.get_all("date")
    assert len(values) == 1
    assert IMF_FIXDATE.fullmatch(values[0].encode()) is not None
    assert parsedate_to_datetime(values[0]).tzinfo is not None


async def test_a_date_from_the_service_is_kept() -> None:
    async with h2_pair(hello) as (client, _):
        resp = await client.send_request(Request("GET", "http://t/dated"))
        await resp.body.collect()
    assert resp.headers.get_all("date") == ["Sun, 06 Nov 1994 08:49:37 GMT"]


async def test_date_header_can_be_switched_off() -> None:
    async with h2_pair(hello, H2ServerConfig(date_header=False)) as (client, _):
        resp = await client.send_request(Request("GET", "http://t/"))
        await resp.body.collect()
    assert "date" not in resp.headers


def test_date_header_must_be_a_bool() -> None:
    with pytest.raises(ConfigError):
        H2ServerConfig(date_header=1)  # type: ignore[arg-type]


async def test_remembered_fields_still_count_toward_the_header_limit() -> None:
    cfg = H2ServerConfig(limits=HttpLimits(max_header_size=2000))
    field = (b"x-a", b"v" * 50)  # 85 bytes as HPACK counts it
    async with loopback_server(echo, cfg) as srv:
        peer = await Peer.connect(srv.port)
        try:
            await peer.send(peer.headers(1, [*GOOD, *[field] * 10]))
            frames = await peer.until_stream_done(1)
            assert peer.status(frames, 1) == b"200"
            await peer.send(peer.headers(3, [*GOOD, *[field] * 30]))  # checked once, counted 30x
            frames = await peer.until_stream_done(3)
            assert peer.status(frames, 3) == b"431"
        finally:
            peer.sock.close()


async def test_a_flood_of_malformed_requests_ends_the_connection() -> None:
    """Malformed requests count as resets: too many and the peer gets ENHANCE_YOUR_CALM."""
    async with loopback_server(echo, H2ServerConfig(max_resets=5)) as srv:
        peer = await Peer.connect(srv.port)
        try:
            bad = [*GOOD, (b"connection", b"close")]
            await peer.send(b"".join(peer.headers(sid, bad) for sid in range(1, 40, 2)))
            loop = asyncio.get_running_loop()
            while data := await asyncio.wait_for(loop.sock_recv(peer.sock, 1 << 16), GUARD):
                peer.raw += data
            goaways = [p for t, _, _, p in split_frames(peer.raw) if t == 0x7]
            assert [struct.unpack(">II", p[:8])[1] for p in goaways] == [0xB]
        finally:
            peer.sock.close()


async def test_a_failure_building_one_request_resets_only_its_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Boom(HeaderMap):
        @classmethod
        def from_raw(cls, items: Iterable[tuple[bytes, bytes]]) -> HeaderMap:
            items = list(items)
            if (b"x-boom", b"1") in items:
                raise RuntimeError("a bug")
            return HeaderMap.from_raw(items)

    monkeypatch.setattr(_h2_server, "HeaderMap", Boom)
    async with loopback_server(echo) as srv:
        peer = await Peer.connect(srv.port)
        try:
            await peer.send(peer.headers(1, [*GOOD, (b"x-boom", b"1")]) + peer.headers(3, GOOD))
            frames = await peer.until_stream_done(3)
            assert rst_code(frames, 1) == 0x2  # INTERNAL_ERROR
            assert peer.status(frames, 3) == b"200"
        finally:
            peer.sock.close()


# -- HPACK encoder choice ---------------------------------------------------------------------


async def _response_blocks(config: H2ServerConfig) -> tuple[list[bytes], hpack.Decoder]:
    async with loopback_server(hello, config) as srv:
        peer = await Peer.connect(srv.port)
        try:
            await peer.send(peer.headers(1, GOOD) + peer.headers(3, GOOD))
            await peer.until_stream_done(3)
            await peer.until_stream_done(1)
            blocks = [p for t, _, s, p in split_frames(peer.raw) if t == 0x1 and s in (1, 3)]
            for block in blocks:
                assert dict(peer.decoder.decode(block, raw=True))[b":status"] == b"200"
            return blocks, peer.decoder
        finally:
            peer.sock.close()


async def test_responses_use_no_dynamic_table_by_default() -> None:
    blocks, decoder = await _response_blocks(H2ServerConfig())
    assert blocks[0][:1] == b"\x20"  # table size update to 0 first
    assert len(decoder.header_table.dynamic_entries) == 0


async def test_hpack_dynamic_table_can_be_switched_on() -> None:
    blocks, decoder = await _response_blocks(H2ServerConfig(hpack_dynamic_table=True))
    assert len(decoder.header_table.dynamic_entries) > 0  # h2's encoder indexes fields
    assert len(blocks[1]) < len(blocks[0])  # the second response refers to them


def test_hpack_dynamic_table_must_be_a_bool() -> None:
    with pytest.raises(ConfigError):
        H2ServerConfig(hpack_dynamic_table="yes")  # type: ignore[arg-type]
