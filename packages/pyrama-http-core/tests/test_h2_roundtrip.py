"""Our HTTP/2 client against our HTTP/2 server: multiplexing, bodies, flow control, trailers."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest
from h2_support import eventually, h2_pair

from pyrama_http_core import (
    H2ClientConfig,
    H2ServerConfig,
    H2StreamIo,
    HttpLimits,
    OnUpgrade,
    Upgraded,
)
from pyrama_http_core.errors import BodyLimitError, H2StreamResetError
from pyrama_http_types import Body, HeaderMap, Method, Request, Response, Version

MIB = 1 << 20


async def echo(req: Request) -> Response:
    """Echo method, URI and body; trailers come back as response trailers."""
    data = await req.body.collect()
    trailers = req.body.trailers
    body = Body.from_bytes(data, trailers=trailers)
    return Response(
        200,
        headers=[("x-method", str(req.method)), ("x-uri", str(req.uri))],
        body=body,
    )


async def test_get_and_post() -> None:
    async with h2_pair(echo) as (client, _):
        resp = await client.send_request(Request("GET", "http://example.test/a?b=1"))
        assert resp.status == 200
        assert resp.version == Version.HTTP_2
        assert resp.headers["x-method"] == "GET"
        assert resp.headers["x-uri"] == "http://example.test/a?b=1"
        assert await resp.body.collect() == b""
        resp = await client.send_request(
            Request("POST", "http://example.test/p", body=b"hello world")
        )
        assert resp.headers["content-length"] == "11"
        assert await resp.body.collect() == b"hello world"


async def test_origin_form_uses_host_header_and_default_scheme() -> None:
    seen: list[Request] = []

    async def handler(req: Request) -> Response:
        seen.append(req)
        return Response.text("ok")

    async with h2_pair(handler) as (client, _):
        resp = await client.send_request(Request("GET", "/x", headers={"Host": "h.test:81"}))
        assert await resp.body.collect() == b"ok"
    (req,) = seen
    assert str(req.uri) == "http://h.test:81/x"
    assert "host" not in req.headers  # :authority carried it


async def test_fifty_concurrent_requests_share_one_connection() -> None:
    active = 0
    peak = 0
    release = asyncio.Event()

    async def handler(req: Request) -> Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if peak >= 50:
            release.set()
        await asyncio.wait_for(release.wait(), 10)
        active -= 1
        return Response.text(str(req.uri))

    async with h2_pair(handler) as (client, _):
        reqs = [Request("GET", f"http://t/{i}") for i in range(50)]
        resps = await asyncio.gather(*(client.send_request(r) for r in reqs))
        bodies = await asyncio.gather(*(r.body.collect() for r in resps))
        assert [b.decode() for b in bodies] == [f"http://t/{i}" for i in range(50)]
        assert peak == 50  # all 50 were in the service at once, on one connection
        assert client.conn.highest_outbound_stream_id == 99


async def _chunks(data: bytes, size: int) -> Body:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i : i + size]

    return Body.from_iter(gen(), size_hint=len(data))


async def test_32_mib_both_ways_with_checksums() -> None:
    payload = os.urandom(32 * MIB)
    digest = hashlib.sha256(payload).hexdigest()

    async def handler(req: Request) -> Response:
        h = hashlib.sha256()
        n = 0
        async for chunk in req.body:
            h.update(chunk)
            n += len(chunk)
        assert n == len(payload)

        async def gen() -> AsyncIterator[bytes]:
            for i in range(0, len(payload), 100_000):
                yield payload[i : i + 100_000]

        return Response(200, headers={"x-sha": h.hexdigest()}, body=Body.from_iter(gen()))

    async with h2_pair(handler) as (client, _):
        req = Request("POST", "http://t/up", body=await _chunks(payload, 256 * 1024))
        resp = await client.send_request(req)
        assert resp.headers["x-sha"] == digest
        h = hashlib.sha256()
        async for chunk in resp.body:
            h.update(chunk)
        assert h.hexdigest() == digest


async def test_small_windows_still_move_large_bodies() -> None:
    payload = os.urandom(3 * MIB + 17)
    server_cfg = H2ServerConfig(initial_window_size=16_384, connection_window_size=65_535)
    client_cfg = H2ClientConfig(
        settings=((4, 20_000), (5, 16_384)), connection_window_increment=None
    )
    async with h2_pair(echo, server_cfg, client_cfg) as (client, _):
        resp = await client.send_request(
            Request("PUT", "http://t/", body=await _chunks(payload, 70_000))
        )
        assert await resp.body.collect() == payload


async def test_request_body_buffering_is_bounded_by_the_window() -> None:
    """A service that does not read: the client can only send one stream window."""
    gate = asyncio.Event()
    seen: list[Request] = []

    async def handler(req: Request) -> Response:
        seen.append(req)
        await gate.wait()
        data = await req.body.collect()
        return Response.text(str(len(data)))

    window = 64 * 1024
    server_cfg = H2ServerConfig(initial_window_size=window, connection_window_size=window * 4)
    payload = os.urandom(1 * MIB)
    async with h2_pair(handler, server_cfg) as (client, _):
        task = asyncio.create_task(
            client.send_request(Request("POST", "http://t/", body=await _chunks(payload, 8192)))
        )
        await eventually(lambda: bool(seen))
        for _ in range(50):  # let the upload run as far as flow control allows
            await asyncio.sleep(0.01)
        (st,) = client.streams.values()
        assert st.out_size > 0 or not st.end_sent  # the client is blocked on the window
        assert client.conn.local_flow_control_window(st.sid) == 0
        gate.set()
        resp = await task
        assert await resp.body.collect() == str(len(payload)).encode()


async def test_trailers_both_ways() -> None:
    async def handler(req: Request) -> Response:
        data = await req.body.collect()
        got = req.body.trailers
        assert got is not None
        back = HeaderMap([("x-checksum", hashlib.sha256(data).hexdigest()), ("x-echo", got["x-t"])])

        async def gen() -> AsyncIterator[bytes]:
            yield data

        return Response(200, body=Body.from_iter(gen(), trailers=lambda: back))

    async with h2_pair(handler) as (client, _):

        async def upload() -> AsyncIterator[bytes]:
            yield b"abc"
            yield b"def"

        body = Body.from_iter(upload(), trailers=lambda: HeaderMap({"x-t": "from-client"}))
        resp = await client.send_request(Request("POST", "http://t/", body=body))
        assert await resp.body.collect() == b"abcdef"
        trailers = resp.body.trailers
        assert trailers is not None
        assert trailers["x-checksum"] == hashlib.sha256(b"abcdef").hexdigest()
        assert trailers["x-echo"] == "from-client"


async def test_in_memory_body_with_trailers() -> None:
    async with h2_pair(echo) as (client, _):
        body = Body.from_bytes(b"xyz", trailers=HeaderMap({"grpc-status": "0"}))
        resp = await client.send_request(Request("POST", "http://t/", body=body))
        assert await resp.body.collect() == b"xyz"
        assert resp.body.trailers is not None
        assert resp.body.trailers["grpc-status"] == "0"


async def test_service_error_is_500_and_connection_survives() -> None:
    async def handler(req: Request) -> Response:
        if req.uri.path == "/boom":
            raise RuntimeError("boom")
        return Response.text("fine")

    async with h2_pair(handler) as (client, _):
        resp = await client.send_request(Request("GET", "http://t/boom"))
        assert resp.status == 500
        await resp.body.collect()
        resp = await client.send_request(Request("GET", "http://t/ok"))
        assert await resp.body.collect() == b"fine"


async def test_body_error_after_headers_resets_the_stream() -> None:
    async def handler(req: Request) -> Response:
        if req.uri.path == "/ok":
            return Response.text("fine")

        async def gen() -> AsyncIterator[bytes]:
            yield b"partial"
            raise RuntimeError("broken stream")

        return Response(200, body=Body.from_iter(gen()))

    async with h2_pair(handler) as (client, _):
        resp = await client.send_request(Request("GET", "http://t/bad"))
        assert resp.status == 200
        with pytest.raises(H2StreamResetError) as info:
            await resp.body.collect()
        assert info.value.error_code == 2  # INTERNAL_ERROR
        resp = await client.send_request(Request("GET", "http://t/ok"))
        assert await resp.body.collect() == b"fine"


async def test_head_and_204_have_no_body() -> None:
    async def handler(req: Request) -> Response:
        if req.uri.path == "/204":
            return Response.empty()
        return Response.text("body that HEAD must not carry")

    async with h2_pair(handler) as (client, _):
        resp = await client.send_request(Request("HEAD", "http://t/"))
        assert resp.status == 200
        assert await resp.body.collect() == b""
        resp = await client.send_request(Request("GET", "http://t/204"))
        assert resp.status == 204
        assert await resp.body.collect() == b""


async def test_body_limit_by_content_length_is_413_without_the_service() -> None:
    called = False

    async def handler(req: Request) -> Response:
        nonlocal called
        called = True
        return Response.text("no")

    cfg = H2ServerConfig(limits=HttpLimits(max_body_size=1000))
    async with h2_pair(handler, cfg) as (client, _):
        resp = await client.send_request(Request("POST", "http://t/", body=b"x" * 1001))
        assert resp.status == 413
        assert not called


async def test_body_limit_while_streaming_is_413() -> None:
    errors: list[BaseException] = []

    async def handler(req: Request) -> Response:
        try:
            await req.body.collect()
        except BodyLimitError as exc:
            errors.append(exc)
            raise
        return Response.text("no")

    cfg = H2ServerConfig(limits=HttpLimits(max_body_size=100_000))
    async with h2_pair(handler, cfg) as (client, _):

        async def gen() -> AsyncIterator[bytes]:
            for _ in range(100):
                yield b"y" * 10_000

        resp = await client.send_request(Request("POST", "http://t/", body=Body.from_iter(gen())))
        assert resp.status == 413
        assert len(errors) == 1
        resp = await client.send_request(Request("GET", "http://t/", body=b"small"))
        assert resp.status == 200


async def test_service_may_answer_before_reading_the_body() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("early")

    async with h2_pair(handler) as (client, _):

        async def gen() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"z" * 65536

        resp = await client.send_request(Request("POST", "http://t/", body=Body.from_iter(gen())))
        assert await resp.body.collect() == b"early"
        # the server told the client to stop uploading (RST_STREAM NO_ERROR); still usable
        resp = await client.send_request(Request("GET", "http://t/"))
        assert await resp.body.collect() == b"early"


async def test_expect_continue_is_answered_when_the_body_is_read() -> None:
    async with h2_pair(echo) as (client, _):
        req = Request("POST", "http://t/", headers={"expect": "100-continue"}, body=b"payload" * 10)
        resp = await client.send_request(req)
        assert await resp.body.collect() == b"payload" * 10


async def test_connect_tunnel_both_sides() -> None:
    async def relay(up: OnUpgrade) -> None:
        upgraded = await up
        io = upgraded.stream
        assert isinstance(io, H2StreamIo)
        while data := await io.read(5):
            io.write(data.upper())
            await io.drain()
        io.write_eof()
        await io.close()

    tasks: list[asyncio.Task[None]] = []

    async def handler(req: Request) -> Response:
        if req.method != Method.CONNECT:
            return Response.text("plain")
        assert str(req.uri) == "upstream.test:443"
        tasks.append(asyncio.create_task(relay(req.extensions.require(OnUpgrade))))
        return Response(200)

    async with h2_pair(handler) as (client, _):
        resp = await client.send_request(Request("CONNECT", "upstream.test:443"))
        assert resp.status == 200
        io = resp.extensions.require(Upgraded).stream
        io.write(b"hello tunnel")
        await io.drain()
        io.write_eof()
        got = b""
        while data := await io.read():
            got += data
        assert got == b"HELLO TUNNEL"
        await io.close()
        await asyncio.wait_for(tasks[0], 5)
        resp = await client.send_request(Request("GET", "http://t/"))  # connection still fine
        assert resp.status == 200


async def test_connect_refused_fails_the_upgrade() -> None:
    results: list[BaseException] = []
    waiters: list[asyncio.Task[None]] = []

    async def handler(req: Request) -> Response:
        up = req.extensions.require(OnUpgrade)

        async def waiter() -> None:
            try:
                await up
            except Exception as exc:
                results.append(exc)

        waiters.append(asyncio.create_task(waiter()))
        return Response.text("no", 403)

    async with h2_pair(handler) as (client, _):
        resp = await client.send_request(Request("CONNECT", "x.test:1"))
        assert resp.status == 403
        assert Upgraded not in resp.extensions
        await asyncio.wait_for(waiters[0], 10)
        assert len(results) == 1


async def test_client_cancel_resets_the_stream_and_cancels_the_service() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(req: Request) -> Response:
        if req.uri.path == "/slow":
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return Response.text("ok")

    async with h2_pair(handler) as (client, _):
        task = asyncio.create_task(client.send_request(Request("GET", "http://t/slow")))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        await asyncio.wait_for(cancelled.wait(), 5)
        resp = await client.send_request(Request("GET", "http://t/fast"))
        assert await resp.body.collect() == b"ok"
        assert client.in_flight == 0


async def test_unread_response_bodies_can_be_dropped() -> None:
    async def handler(req: Request) -> Response:
        return Response.binary(b"q" * 200_000)

    async with h2_pair(handler) as (client, _):
        for _ in range(40):  # 8 MB unread would stall the connection window if not returned
            resp = await client.send_request(Request("GET", "http://t/"))
            await resp.body.aclose()
        resp = await client.send_request(Request("GET", "http://t/"))
        assert len(await resp.body.collect()) == 200_000


async def test_garbage_collected_response_bodies_return_their_window() -> None:
    async def handler(req: Request) -> Response:
        return Response.binary(b"q" * 200_000)

    cfg = H2ClientConfig(connection_window_increment=None)  # 64 KiB connection window
    async with h2_pair(handler, None, cfg) as (client, _):
        for _ in range(10):
            resp = await client.send_request(Request("GET", "http://t/"))
            del resp  # never read: collected at once (reference counting)
        resp = await asyncio.wait_for(client.send_request(Request("GET", "http://t/")), 10)
        assert len(await asyncio.wait_for(resp.body.collect(), 10)) == 200_000


async def test_unread_request_bodies_do_not_stall_the_connection() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("ignored your body")

    cfg = H2ServerConfig(connection_window_size=256 * 1024)
    async with h2_pair(handler, cfg) as (client, _):
        for _ in range(30):  # 3 MB of bodies nobody reads, through a 256 KiB window
            resp = await asyncio.wait_for(
                client.send_request(Request("POST", "http://t/", body=b"b" * 100_000)), 10
            )
            assert await resp.body.collect() == b"ignored your body"


async def test_ping_round_trip() -> None:
    async with h2_pair(echo) as (client, _):
        rtt = await asyncio.wait_for(client.ping(), 5)
        assert rtt >= 0
