"""The server's one-shot response path (HEADERS + one DATA frame written by hand).

A strict peer (the h2 library as a client: it checks flow control, frame sizes, stream
states and HPACK) receives what the fast path writes: windows must be accounted exactly as
h2 would, large header blocks split into CONTINUATION frames, and bodies that do not fit
fall back to the queued path.
"""

from __future__ import annotations

from collections.abc import Callable

import h2.events
import h2.settings
from h2_support import RawClient, loopback_server, request_headers

from pyrama_http_types import Request, Response

BIG_HEADER = "v" * 40_000


async def sized(req: Request) -> Response:
    """``/n/<size>`` answers that many bytes; ``/big-head`` a 40 kB header field."""
    path = req.uri.path
    if path.startswith("/n/"):
        return Response.text("x" * int(path[3:]))
    if path == "/big-head":
        resp = Response.text("ok")
        resp.headers.set("x-big", BIG_HEADER)
        return resp
    if path == "/head":
        return Response.text("body of a HEAD")
    return Response.text("?", 404)


def _body(c: RawClient, sid: int) -> bytes:
    return b"".join(
        ev.data for ev in c.events if isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid
    )


def _end_of(sid: int) -> Callable[[h2.events.Event], bool]:
    return lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == sid


def _ended(c: RawClient, sid: int) -> bool:
    return any(isinstance(e, h2.events.StreamEnded) and e.stream_id == sid for e in c.events)


async def test_connection_window_is_accounted_and_respected() -> None:
    """7 x 10,000 bytes over a 65,535-byte connection window the client never refills."""
    async with loopback_server(sized) as srv:
        c = await RawClient.connect(srv.port)
        try:
            sids = list(range(1, 15, 2))
            for sid in sids:
                c.conn.send_headers(sid, request_headers("/n/10000"), end_stream=True)
            await c.flush()
            for sid in sids[:6]:
                await c.until(_end_of(sid))
            # the 7th got what was left of the window (h2 would have raised on more)
            await c.until(
                lambda e: isinstance(e, h2.events.DataReceived) and e.stream_id == sids[6]
            )
            assert len(_body(c, sids[6])) == 65_535 - 60_000
            assert not _ended(c, sids[6])
            total = sum(len(_body(c, s)) for s in sids)
            c.conn.acknowledge_received_data(total, sids[0])  # refill the connection window
            for s in sids:
                # stream windows too (h2 only tracks them per stream it knows)
                if len(_body(c, s)) and s != sids[0]:
                    c.conn.acknowledge_received_data(len(_body(c, s)), s)
            await c.flush()
            await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == sids[6])
            assert all(_body(c, s) == b"x" * 10_000 for s in sids)
        finally:
            c.close()


async def test_small_stream_window_falls_back_to_queued_data() -> None:
    async with loopback_server(sized) as srv:
        c = await RawClient.connect(srv.port)
        try:
            c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100})
            await c.flush()
            await c.until(lambda e: isinstance(e, h2.events.SettingsAcknowledged))
            c.conn.send_headers(1, request_headers("/n/250"), end_stream=True)
            c.conn.send_headers(3, request_headers("/n/100"), end_stream=True)
            await c.flush()
            await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 3)
            assert _body(c, 3) == b"x" * 100  # exactly the window: one frame, fast path
            assert _body(c, 1) == b"x" * 100  # the rest waits for a WINDOW_UPDATE
            c.conn.increment_flow_control_window(150, 1)
            await c.flush()
            await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
            assert _body(c, 1) == b"x" * 250
        finally:
            c.close()


async def test_body_larger_than_a_frame_is_split() -> None:
    async with loopback_server(sized) as srv:
        c = await RawClient.connect(srv.port)
        try:
            c.conn.send_headers(1, request_headers("/n/40000"), end_stream=True)
            await c.flush()
            await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
            assert _body(c, 1) == b"x" * 40_000
            frames = [e for e in c.events if isinstance(e, h2.events.DataReceived)]
            assert all(len(f.data) <= 16_384 for f in frames)
        finally:
            c.close()


async def test_large_header_block_goes_out_in_continuation_frames() -> None:
    async with loopback_server(sized) as srv:
        c = await RawClient.connect(srv.port)
        try:
            c.conn.send_headers(1, request_headers("/big-head"), end_stream=True)
            c.conn.send_headers(3, request_headers("/n/5"), end_stream=True)
            await c.flush()
            await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 3)
            await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
            resp = next(e for e in c.events if isinstance(e, h2.events.ResponseReceived))
            fields = dict(resp.headers)
            assert fields[b"x-big"] == BIG_HEADER.encode()
            assert _body(c, 1) == b"ok"
            assert _body(c, 3) == b"xxxxx"
        finally:
            c.close()


async def test_head_response_has_no_body() -> None:
    async with loopback_server(sized) as srv:
        c = await RawClient.connect(srv.port)
        try:
            c.conn.send_headers(1, request_headers("/head", "HEAD"), end_stream=True)
            await c.flush()
            await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
            resp = next(e for e in c.events if isinstance(e, h2.events.ResponseReceived))
            assert dict(resp.headers)[b":status"] == b"200"
            assert _body(c, 1) == b""
        finally:
            c.close()
