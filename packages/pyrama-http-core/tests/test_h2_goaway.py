"""GOAWAY both ways: graceful server shutdown, the client's reaction, stream slots."""

from __future__ import annotations

import asyncio

import h2.config
import h2.connection
import h2.events
import pytest
from h2_support import (
    RawClient,
    eventually,
    h2_pair,
    loopback_server,
    request_headers,
    socket_pair,
    tcp_client_stream,
)

from pyrama_http_core import H2ClientConfig, H2ClientConnection, H2ServerConfig
from pyrama_http_core._h2_frames import encode_goaway
from pyrama_http_core.errors import ConnectionClosedError, H2GoAwayError, HttpTimeoutError
from pyrama_http_types import Request, Response
from pyrama_net import SocketStream


async def test_graceful_shutdown_finishes_in_flight_and_refuses_new() -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def handler(req: Request) -> Response:
        if req.uri.path == "/slow":
            started.set()
            await gate.wait()
            return Response.text("finished after goaway")
        return Response.text("quick")

    async with loopback_server(handler) as srv:
        stream = await tcp_client_stream(srv.port)
        client = H2ClientConnection(stream, default_scheme="http")
        slow = asyncio.create_task(client.send_request(Request("GET", "http://t/slow")))
        await asyncio.wait_for(started.wait(), 10)
        srv.shutdown.trigger("test")
        await eventually(lambda: client.goaway_received is not None)
        assert not client.is_available()
        with pytest.raises(H2GoAwayError) as info:
            await client.send_request(Request("GET", "http://t/new"))
        assert info.value.retryable
        gate.set()
        resp = await asyncio.wait_for(slow, 10)
        assert resp.status == 200
        assert await resp.body.collect() == b"finished after goaway"
        await asyncio.wait_for(client.wait_closed(), 10)
        result = await srv.shutdown.wait_complete(10)
        assert result.clean
        await client.close()


async def test_graceful_shutdown_deadline_cuts_stuck_streams() -> None:
    async def handler(req: Request) -> Response:
        await asyncio.sleep(3600)
        return Response.text("never")

    async with loopback_server(handler, H2ServerConfig(graceful_timeout=0.2)) as srv:
        stream = await tcp_client_stream(srv.port)
        client = H2ClientConnection(stream, default_scheme="http")
        stuck = asyncio.create_task(client.send_request(Request("GET", "http://t/")))
        await eventually(lambda: client.in_flight == 1)
        await asyncio.sleep(0.05)
        srv.shutdown.trigger("test")
        with pytest.raises((ConnectionClosedError, H2GoAwayError)):
            await asyncio.wait_for(stuck, 10)
        await asyncio.wait_for(client.wait_closed(), 10)
        await client.close()


class _FakeServer:
    """A minimal h2 server (the h2 library) over a socket stream, driven by the test."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.requests: list[int] = []

    async def start(self) -> None:
        self.conn.initiate_connection()
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.stream.write(data)

    async def wait_requests(self, n: int) -> None:
        while len(self.requests) < n:
            data = await self.stream.read()
            assert data
            for ev in self.conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    self.requests.append(int(ev.stream_id or 0))
            self.flush()

    def respond(self, sid: int, body: bytes) -> None:
        self.conn.send_headers(sid, [(":status", "200")])
        self.conn.send_data(sid, body, end_stream=True)
        self.flush()


async def test_client_goaway_fails_only_streams_above_last_id() -> None:
    cs, ss = await socket_pair()
    fake = _FakeServer(ss)
    await fake.start()
    client = H2ClientConnection(cs, default_scheme="http")
    t1 = asyncio.create_task(client.send_request(Request("GET", "http://t/1")))
    await eventually(lambda: client.in_flight == 1)
    t2 = asyncio.create_task(client.send_request(Request("GET", "http://t/2")))
    await fake.wait_requests(2)
    assert fake.requests == [1, 3]
    fake.flush()
    ss.write(encode_goaway(1, 0))  # stream 3 was not processed
    fake.respond(1, b"one")  # and stream 1 still completes after the GOAWAY
    with pytest.raises(H2GoAwayError) as info:
        await asyncio.wait_for(t2, 10)
    assert info.value.retryable
    assert info.value.last_stream_id == 1
    resp = await asyncio.wait_for(t1, 10)
    assert await resp.body.collect() == b"one"
    await asyncio.wait_for(client.wait_closed(), 10)
    with pytest.raises(H2GoAwayError) as info:
        await client.send_request(Request("GET", "http://t/3"))
    assert info.value.retryable
    await client.close()
    await ss.close()


async def test_client_goaway_with_error_fails_everything() -> None:
    cs, ss = await socket_pair()
    fake = _FakeServer(ss)
    await fake.start()
    client = H2ClientConnection(cs, default_scheme="http")
    t1 = asyncio.create_task(client.send_request(Request("GET", "http://t/1")))
    await fake.wait_requests(1)
    fake.conn.close_connection(error_code=2, last_stream_id=1)
    fake.flush()
    with pytest.raises(H2GoAwayError) as info:
        await asyncio.wait_for(t1, 10)
    assert not info.value.retryable
    assert info.value.error_code == 2
    await client.close()
    await ss.close()


async def test_connection_lost_mid_body() -> None:
    cs, ss = await socket_pair()
    fake = _FakeServer(ss)
    await fake.start()
    client = H2ClientConnection(cs, default_scheme="http")
    t1 = asyncio.create_task(client.send_request(Request("GET", "http://t/1")))
    await fake.wait_requests(1)
    fake.conn.send_headers(1, [(":status", "200")])
    fake.conn.send_data(1, b"part")
    fake.flush()
    resp = await asyncio.wait_for(t1, 10)
    await ss.close()
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(resp.body.collect(), 10)
    with pytest.raises(ConnectionClosedError) as info:
        await client.send_request(Request("GET", "http://t/2"))
    assert not info.value.request_sent
    await client.close()


async def test_client_waits_for_stream_slots() -> None:
    active = 0
    peak = 0

    async def handler(req: Request) -> Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return Response.text("ok")

    async with h2_pair(handler, H2ServerConfig(max_concurrent_streams=2)) as (client, _):
        await client.ping()  # SETTINGS (max 2 streams) have arrived by now
        assert client.max_concurrent == 2
        resps = await asyncio.gather(
            *(client.send_request(Request("GET", "http://t/")) for _ in range(8))
        )
        assert [r.status for r in resps] == [200] * 8
        assert peak <= 2


async def test_server_finishes_streams_after_client_goaway() -> None:
    gate = asyncio.Event()

    async def handler(req: Request) -> Response:
        await gate.wait()
        return Response.text("still answered")

    async with loopback_server(handler) as srv:
        c = await RawClient.connect(srv.port)
        c.conn.send_headers(1, request_headers("/"), end_stream=True)
        await c.flush()
        await eventually(lambda: bool(srv.tasks))
        await asyncio.sleep(0.05)
        await c.send_raw(encode_goaway(0, 0))
        gate.set()
        await c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
        data = b"".join(e.data for e in c.events if isinstance(e, h2.events.DataReceived))
        assert data == b"still answered"
        await c.read_until_eof(10)
        assert c.eof
        c.close()


async def test_keepalive_closes_a_silent_connection() -> None:
    cs, ss = await socket_pair()  # nobody answers on ss: no SETTINGS, no PING ACK
    cfg = H2ClientConfig(keepalive_interval=0.05, keepalive_timeout=0.2)
    client = H2ClientConnection(cs, cfg, default_scheme="http")
    await client.start()
    await asyncio.wait_for(client.wait_closed(), 10)
    assert isinstance(client.error, HttpTimeoutError)
    with pytest.raises(ConnectionClosedError):
        await client.send_request(Request("GET", "http://t/"))
    await client.close()
    await ss.close()


async def test_keepalive_pings_keep_a_live_connection() -> None:
    cfg = H2ClientConfig(keepalive_interval=0.02, keepalive_timeout=5)
    async with h2_pair(lambda req: _ok(), None, cfg) as (client, _):
        await asyncio.sleep(0.3)  # several keepalive rounds
        assert not client.closed
        resp = await client.send_request(Request("GET", "http://t/"))
        assert resp.status == 200


async def _ok() -> Response:
    return Response.text("ok")
