"""HTTP/2 server limits and attacks: rapid reset, HPACK bomb, CONTINUATION flood, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import struct

import h2.events
import h2.exceptions
import pytest
from h2_support import RawClient, h2_pair, loopback_server, request_headers

from pyrama_http_core import H2_PREFACE, H2ServerConfig, HttpLimits
from pyrama_http_core._h2_frames import encode_settings
from pyrama_http_core.errors import H2GoAwayError
from pyrama_http_types import Request, Response

ENHANCE_YOUR_CALM = 0xB
REFUSED_STREAM = 0x7


async def slow(req: Request) -> Response:
    """Answers after a while (so resets hit streams in progress)."""
    if req.uri.path == "/slow":
        await asyncio.sleep(30)
    return Response.text("ok")


async def fast_get(port: int) -> bytes:
    """One GET over a fresh raw connection: proves the server still serves."""
    c = await RawClient.connect(port)
    try:
        c.conn.send_headers(1, request_headers("/"), end_stream=True)
        await c.flush()
        data = b""
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded))
        for ev in c.events:
            if isinstance(ev, h2.events.DataReceived):
                data += ev.data
        return data
    finally:
        c.close()


def _frames(raw: bytes) -> list[tuple[int, int, int, bytes]]:
    """Split raw server bytes into (type, flags, stream, payload) frames."""
    out = []
    i = 0
    while i + 9 <= len(raw):
        length = int.from_bytes(raw[i : i + 3], "big")
        ftype, flags = raw[i + 3], raw[i + 4]
        sid = int.from_bytes(raw[i + 5 : i + 9], "big") & 0x7FFFFFFF
        out.append((ftype, flags, sid, raw[i + 9 : i + 9 + length]))
        i += 9 + length
    return out


def _goaway_codes(raw: bytes) -> list[int]:
    return [struct.unpack(">II", p[:8])[1] for t, _, _, p in _frames(raw) if t == 7]


async def test_rapid_reset_gets_enhance_your_calm_and_server_survives() -> None:
    cfg = H2ServerConfig(max_resets=50)
    async with loopback_server(slow, cfg) as srv:
        c = await RawClient.connect(srv.port)
        terminated: h2.events.Event | None = None
        sid = 1
        try:
            for _ in range(200):
                c.conn.send_headers(sid, request_headers("/slow"), end_stream=True)
                c.conn.reset_stream(sid)
                sid += 2
                await c.flush()
                for ev in await c.pump(0.001):
                    if isinstance(ev, h2.events.ConnectionTerminated):
                        terminated = ev
                if terminated is not None or c.eof:
                    break
        except h2.exceptions.ProtocolError:
            pass  # h2 refuses to send after the GOAWAY arrived
        if terminated is None:
            terminated = await c.until(lambda e: isinstance(e, h2.events.ConnectionTerminated))
        assert isinstance(terminated, h2.events.ConnectionTerminated)
        assert terminated.error_code == ENHANCE_YOUR_CALM
        assert sid < 2 * 200  # stopped well before the loop ran out
        await c.read_until_eof(5)
        assert c.eof
        c.close()
        assert await fast_get(srv.port) == b"ok"


async def test_cancelled_downloads_are_not_rapid_resets() -> None:
    async def big(req: Request) -> Response:
        return Response.binary(b"d" * 1_000_000)

    async with h2_pair(big, H2ServerConfig(max_resets=20)) as (client, _):
        for _ in range(60):  # the client drops each download after its head arrived
            resp = await client.send_request(Request("GET", "http://t/"))
            await resp.body.aclose()
        resp = await client.send_request(Request("GET", "http://t/"))
        assert len(await resp.body.collect()) == 1_000_000
        assert client.goaway_received is None


async def test_resets_below_the_limit_are_fine() -> None:
    cfg = H2ServerConfig(max_resets=50)
    async with loopback_server(slow, cfg) as srv:
        c = await RawClient.connect(srv.port)
        for sid in range(1, 80, 2):  # 40 resets
            c.conn.send_headers(sid, request_headers("/slow"), end_stream=True)
            c.conn.reset_stream(sid)
        c.conn.send_headers(81, request_headers("/"), end_stream=True)
        await c.flush()
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 81)
        assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in c.events)
        c.close()


async def test_too_many_concurrent_streams_are_refused() -> None:
    gate = asyncio.Event()

    async def handler(req: Request) -> Response:
        await gate.wait()
        return Response.text("done")

    async with loopback_server(handler, H2ServerConfig(max_concurrent_streams=2)) as srv:
        c = await RawClient.connect(srv.port)
        for sid in (1, 3, 5):
            c.conn.send_headers(sid, request_headers("/"), end_stream=True)
        await c.flush()
        reset = await c.until(lambda e: isinstance(e, h2.events.StreamReset))
        assert isinstance(reset, h2.events.StreamReset)
        assert (reset.stream_id, reset.error_code) == (5, REFUSED_STREAM)
        gate.set()
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 3)
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
        # a slot is free again: a new stream is served
        c.conn.send_headers(7, request_headers("/"), end_stream=True)
        await c.flush()
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 7)
        assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in c.events)
        c.close()


async def test_hpack_bomb_is_refused() -> None:
    async with loopback_server(slow) as srv:
        c = await RawClient.connect(srv.port)
        big = ("x-bomb", "b" * 4000)
        c.conn.send_headers(1, [*request_headers("/"), big], end_stream=True)  # now indexed
        await c.flush()
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
        # 200 one-byte references to the 4 KB entry: 800 KB decoded from ~200 bytes
        c.conn.send_headers(3, [*request_headers("/"), *([big] * 200)], end_stream=True)
        await c.flush()
        ev = await c.until(lambda e: isinstance(e, h2.events.ConnectionTerminated))
        assert isinstance(ev, h2.events.ConnectionTerminated)
        assert ev.error_code != 0
        assert not any(
            isinstance(e, h2.events.ResponseReceived) and e.stream_id == 3 for e in c.events
        )
        await c.read_until_eof(5)
        c.close()
        assert await fast_get(srv.port) == b"ok"


async def test_large_header_list_is_431_and_connection_survives() -> None:
    cfg = H2ServerConfig(limits=HttpLimits(max_header_size=8192))
    async with loopback_server(slow, cfg) as srv:
        c = await RawClient.connect(srv.port)
        c.conn.send_headers(1, [*request_headers("/"), ("x-big", "v" * 10_000)], end_stream=True)
        await c.flush()
        ev = await c.until(lambda e: isinstance(e, h2.events.ResponseReceived))
        assert isinstance(ev, h2.events.ResponseReceived)
        assert dict(ev.headers)[b":status"] == b"431"
        c.conn.send_headers(3, request_headers("/"), end_stream=True)
        await c.flush()
        ev = await c.until(lambda e: isinstance(e, h2.events.ResponseReceived) and e.stream_id == 3)
        assert dict(ev.headers)[b":status"] == b"200"  # type: ignore[attr-defined]
        c.close()


async def test_too_many_header_fields_is_431() -> None:
    cfg = H2ServerConfig(limits=HttpLimits(max_headers=10))
    async with h2_pair(slow, cfg) as (client, _):
        headers = [(f"x-h{i}", "v") for i in range(11)]
        resp = await client.send_request(Request("GET", "http://t/", headers=headers))
        assert resp.status == 431
        resp = await client.send_request(Request("GET", "http://t/", headers=headers[:10]))
        assert resp.status == 200


async def _continuation_flood(frame_payload: int, frames: int) -> tuple[bytes, bool]:
    """Send HEADERS without END_HEADERS and many CONTINUATION frames; return server bytes."""
    async with loopback_server(slow) as srv:
        loop = asyncio.get_running_loop()
        c = await RawClient.connect(srv.port)  # sends preface + SETTINGS via h2
        block = b"\x82"  # :method GET (static index 2), then junk that is never decoded
        out = bytearray()
        out += struct.pack(">I", (len(block) << 8) | 0x1)[0:4] + b"\x00" + struct.pack(">I", 1)
        out += block
        payload = b"\x00" * frame_payload
        for i in range(frames):
            flags = 0x0
            out += struct.pack(">I", (len(payload) << 8) | 0x9) + bytes([flags])
            out += struct.pack(">I", 1) + payload
            if len(out) > 256 * 1024 or i == frames - 1:
                with contextlib.suppress(OSError):
                    await loop.sock_sendall(c.sock, bytes(out))
                out.clear()
        raw = await c.read_until_eof(10)
        closed = c.eof
        c.close()
        assert await fast_get(srv.port) == b"ok"
        return raw, closed


async def test_continuation_flood_bytes_is_cut() -> None:
    raw, closed = await _continuation_flood(16_000, 400)  # 6.4 MB of header block
    assert closed
    assert ENHANCE_YOUR_CALM in _goaway_codes(raw)


async def test_continuation_flood_frame_count_is_cut() -> None:
    raw, closed = await _continuation_flood(0, 5000)  # empty CONTINUATION frames
    assert closed
    codes = _goaway_codes(raw)
    assert codes
    assert codes[-1] != 0


async def test_ping_flood_is_cut() -> None:
    cfg = H2ServerConfig(max_control_frames=20)
    async with loopback_server(slow, cfg) as srv:
        c = await RawClient.connect(srv.port)
        with contextlib.suppress(h2.exceptions.ProtocolError):
            for i in range(100):
                c.conn.ping(i.to_bytes(8, "big"))
        await c.flush()
        ev = await c.until(lambda e: isinstance(e, h2.events.ConnectionTerminated))
        assert ev.error_code == ENHANCE_YOUR_CALM  # type: ignore[attr-defined]
        c.close()


async def test_bad_preface_is_rejected() -> None:
    async with loopback_server(slow) as srv:
        loop = asyncio.get_running_loop()
        c = RawClient(__import__("socket").socket())
        c.sock.setblocking(False)
        await loop.sock_connect(c.sock, ("127.0.0.1", srv.port))
        await loop.sock_sendall(c.sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = await c.read_until_eof(5)
        assert c.eof
        assert _goaway_codes(raw) == [1]  # PROTOCOL_ERROR
        c.close()


async def test_settings_frame_order_is_exact() -> None:
    cfg = H2ServerConfig(max_concurrent_streams=42, initial_window_size=100_000)
    async with loopback_server(slow, cfg) as srv:
        loop = asyncio.get_running_loop()
        c = RawClient(__import__("socket").socket())
        c.sock.setblocking(False)
        await loop.sock_connect(c.sock, ("127.0.0.1", srv.port))
        await loop.sock_sendall(c.sock, H2_PREFACE + encode_settings([]))
        raw = await asyncio.wait_for(loop.sock_recv(c.sock, 65536), 5)
        frames = _frames(raw)
        ftype, flags, _, payload = frames[0]
        assert (ftype, flags) == (4, 0)
        entries = [struct.unpack(">HI", payload[i : i + 6]) for i in range(0, len(payload), 6)]
        assert entries == [(3, 42), (4, 100_000), (6, 65536)]
        wu = frames[1]
        assert wu[0] == 8
        assert struct.unpack(">I", wu[3])[0] == (4 << 20) - 65535
        c.close()


async def test_idle_connection_is_closed_with_goaway() -> None:
    cfg = H2ServerConfig(limits=HttpLimits(keep_alive_timeout=0.2))
    async with h2_pair(slow, cfg) as (client, server):
        resp = await client.send_request(Request("GET", "http://t/"))
        assert await resp.body.collect() == b"ok"
        await asyncio.wait_for(client.wait_closed(), 10)
        assert client.goaway_received is not None
        assert client.goaway_received[0] == 0
        await asyncio.wait_for(server, 10)


async def test_max_requests_per_connection() -> None:
    cfg = H2ServerConfig(limits=HttpLimits(max_requests_per_connection=3))
    async with h2_pair(slow, cfg) as (client, _):
        for _ in range(3):
            resp = await client.send_request(Request("GET", "http://t/"))
            assert await resp.body.collect() == b"ok"
        await asyncio.wait_for(client.wait_closed(), 10)
        with pytest.raises(H2GoAwayError) as info:
            await client.send_request(Request("GET", "http://t/"))
        assert info.value.retryable


async def test_100_continue_is_sent_only_when_the_body_is_read() -> None:
    async def handler(req: Request) -> Response:
        if req.uri.path == "/read":
            return Response.text(str(len(await req.body.collect())))
        return Response.text("not reading", 403)

    async with loopback_server(handler) as srv:
        c = await RawClient.connect(srv.port)
        expect = [*request_headers("/read", "POST"), ("expect", "100-continue")]
        c.conn.send_headers(1, expect)
        await c.flush()
        info = await c.until(lambda e: isinstance(e, h2.events.InformationalResponseReceived))
        assert dict(info.headers)[b":status"] == b"100"  # type: ignore[attr-defined]
        c.conn.send_data(1, b"x" * 1000, end_stream=True)
        await c.flush()
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
        body = b"".join(
            e.data for e in c.events if isinstance(e, h2.events.DataReceived) and e.stream_id == 1
        )
        assert body == b"1000"

        c.conn.send_headers(3, [*request_headers("/no", "POST"), ("expect", "100-continue")])
        await c.flush()
        resp = await c.until(
            lambda e: isinstance(e, h2.events.ResponseReceived) and e.stream_id == 3
        )
        assert dict(resp.headers)[b":status"] == b"403"  # type: ignore[attr-defined]
        assert not any(
            isinstance(e, h2.events.InformationalResponseReceived) and e.stream_id == 3
            for e in c.events
        )
        c.close()
