"""The HTTP/1.1 server connection driver over loopback sockets and in-memory streams."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from pyrama_core import service_fn
from pyrama_http_core import (
    NEED_DATA,
    ContinueMode,
    EndOfMessage,
    H11ClientCodec,
    Http1Config,
    Http1ServerConnection,
    HttpLimits,
    OnUpgrade,
    ResponseHead,
    ServerEvent,
    serve_http1,
)
from pyrama_http_core._codec import BodyData
from pyrama_http_core.errors import BodyLimitError
from pyrama_http_types import Body, HeaderMap, Request, Response
from pyrama_http_types.errors import BodyTooLargeError
from pyrama_net import SocketInfo, SocketStreamProtocol
from pyrama_testing import mock_stream_pair, require_peer

GUARD = 10.0

Handler = Callable[[Request], Awaitable[Response]]

# every test here runs with each HTTP/1.1 server codec as the driver default, and with push
# reads on and off (conftest.py)
pytestmark = pytest.mark.usefixtures("each_server_codec", "each_read_mode")


class Server:
    def __init__(self) -> None:
        self.port = 0
        self.conns: list[Http1ServerConnection] = []
        self.tasks: set[asyncio.Task[None]] = set()


@contextlib.asynccontextmanager
async def h1_server(handler: Handler, config: Http1Config | None = None) -> AsyncIterator[Server]:
    loop = asyncio.get_running_loop()
    srv = Server()
    svc = service_fn(handler)

    def on_connect(stream: object) -> None:
        conn = Http1ServerConnection(stream, svc, config)  # type: ignore[arg-type]
        srv.conns.append(conn)
        task = loop.create_task(conn.run())
        srv.tasks.add(task)

    server = await loop.create_server(
        lambda: SocketStreamProtocol(loop, on_connect=on_connect), "127.0.0.1", 0
    )
    srv.port = server.sockets[0].getsockname()[1]
    try:
        yield srv
    finally:
        server.close()
        for t in srv.tasks:
            t.cancel()
        await asyncio.gather(*srv.tasks, return_exceptions=True)
        await server.wait_closed()


async def open_raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def exchange(port: int, data: bytes) -> bytes:
    """Send *data*, then read until the server closes."""
    r, w = await open_raw(port)
    w.write(data)
    try:
        return await asyncio.wait_for(r.read(), GUARD)
    finally:
        w.close()


def parse_responses(
    data: bytes, methods: list[bytes] | None = None
) -> list[tuple[int, list[tuple[bytes, bytes]], bytes, list[tuple[bytes, bytes]]]]:
    """Parse consecutive responses (status, headers, body, trailers) with the client codec."""
    out = []
    codec = H11ClientCodec()
    codec.receive(data)
    for method in methods or [b"GET"] * 100:
        if not codec.is_reusable:
            break
        codec.send_request(method, b"/", [(b"Host", b"x")], content_length=0)
        head: ResponseHead | None = None
        body = b""
        while True:
            ev = codec.next_event()
            if ev is NEED_DATA:
                codec.receive(b"")
                ev = codec.next_event()
            if isinstance(ev, ResponseHead):
                head = ev
            elif isinstance(ev, BodyData):
                body += ev.data
            elif isinstance(ev, EndOfMessage):
                assert head is not None
                out.append((head.status, head.headers, body, ev.trailers))
                break
            else:
                return out
    return out


async def hello(req: Request) -> Response:
    return Response.text(f"hello {req.uri}")


# -- basics -----------------------------------------------------------------------------------


async def test_pipelined_requests_get_ordered_responses() -> None:
    seen: list[str] = []

    async def handler(req: Request) -> Response:
        seen.append(str(req.uri))
        if str(req.uri) == "/0":
            await asyncio.sleep(0.05)  # the slow first one must still be answered first
        return Response.text(str(req.uri))

    async with h1_server(handler) as srv:
        data = await exchange(
            srv.port,
            b"GET /0 HTTP/1.1\r\nHost: a\r\n\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
    responses = parse_responses(data)
    assert [r[2] for r in responses] == [b"/0", b"/1", b"/2"]
    assert seen == ["/0", "/1", "/2"]


async def test_service_sees_raw_header_case_and_order_and_peer_address() -> None:
    got: list[tuple[bytes, bytes]] = []
    infos: list[SocketInfo | None] = []

    async def handler(req: Request) -> Response:
        got.extend(req.headers.raw_items())
        infos.append(req.extensions.get(SocketInfo))
        return Response.text("ok")

    async with h1_server(handler) as srv:
        await exchange(
            srv.port,
            b"GET / HTTP/1.1\r\nhOsT: a\r\nX-MiXeD-CaSe: 1\r\nx-mixed-case: 2\r\n"
            b"X-MIXED-CASE: 3\r\nConnection: close\r\n\r\n",
        )
    assert got == [
        (b"hOsT", b"a"),
        (b"X-MiXeD-CaSe", b"1"),
        (b"x-mixed-case", b"2"),
        (b"X-MIXED-CASE", b"3"),
        (b"Connection", b"close"),
    ]
    info = infos[0]
    assert info is not None
    assert info.peer[0] == "127.0.0.1"


async def test_connection_extensions_are_forked_into_each_request() -> None:
    class Marker:
        pass

    marker = Marker()
    seen: list[object] = []

    async def handler(req: Request) -> Response:
        seen.append(req.extensions.get(Marker))
        req.extensions.insert("per-request")
        return Response.text("ok")

    a, b = mock_stream_pair()
    a.extensions.insert(marker)
    task = asyncio.create_task(serve_http1(a, service_fn(handler)))
    b.write(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    await asyncio.wait_for(task, GUARD)
    assert seen == [marker, marker]
    assert a.extensions.get(str) is None  # request inserts never leak into the connection


async def test_keep_alive_with_httpx() -> None:
    async with h1_server(hello) as srv:
        async with httpx.AsyncClient() as client:
            for i in range(5):
                r = await client.get(f"http://127.0.0.1:{srv.port}/{i}")
                assert r.status_code == 200
                assert r.text == f"hello /{i}"
        assert len(srv.conns) == 1
        assert srv.conns[0].requests_served == 5


async def test_http10_request() -> None:
    async with h1_server(hello) as srv:
        data = await exchange(srv.port, b"GET /old HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in data
    assert data.endswith(b"hello /old")


async def test_head_response_has_no_body() -> None:
    async with h1_server(hello) as srv:
        data = await exchange(
            srv.port,
            b"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /g HTTP/1.1\r\n"
            b"Host: a\r\nConnection: close\r\n\r\n",
        )
    responses = parse_responses(data, [b"HEAD", b"GET"])
    assert len(responses) == 2
    status, headers, body, _ = responses[0]
    assert status == 200
    assert (b"content-length", b"8") in headers
    assert body == b""
    assert responses[1][2] == b"hello /g"


# -- bodies -----------------------------------------------------------------------------------


async def test_chunked_request_body_streams_into_the_service() -> None:
    """The service echoes each chunk as it arrives; the client waits for each echo."""

    async def handler(req: Request) -> Response:
        async def echo() -> AsyncIterator[bytes]:
            async for chunk in req.body:
                yield chunk.upper()

        return Response(200, body=Body.from_iter(echo()))

    async with h1_server(handler) as srv:
        r, w = await open_raw(srv.port)
        w.write(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n5\r\nfirst\r\n"
        )
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
        assert b"transfer-encoding: chunked" in head
        assert await asyncio.wait_for(r.readuntil(b"FIRST\r\n"), GUARD) == b"5\r\nFIRST\r\n"
        w.write(b"6\r\nsecond\r\n")
        assert await asyncio.wait_for(r.readuntil(b"SECOND\r\n"), GUARD) == b"6\r\nSECOND\r\n"
        w.write(b"0\r\n\r\n")
        assert await asyncio.wait_for(r.read(), GUARD) == b"0\r\n\r\n"
        w.close()


async def test_request_and_response_trailers() -> None:
    got: list[object] = []

    async def handler(req: Request) -> Response:
        data = await req.body.collect()
        got.append(data)
        got.append(req.body.trailers)

        async def gen() -> AsyncIterator[bytes]:
            yield b"abc"

        trailers = HeaderMap([("X-Checksum", "42"), ("x-MiXeD", "t")])
        return Response(
            200,
            headers=[("Trailer", "X-Checksum")],
            body=Body.from_iter(gen(), trailers=lambda: trailers),
        )

    async with h1_server(handler) as srv:
        data = await exchange(
            srv.port,
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
            b"\r\n3\r\nxyz\r\n0\r\nX-Req-Trailer: yes\r\nX-Two: 2\r\n\r\n",
        )
    assert got[0] == b"xyz"
    trailers = got[1]
    assert isinstance(trailers, HeaderMap)
    assert trailers.raw_items() == [(b"X-Req-Trailer", b"yes"), (b"X-Two", b"2")]
    assert data.endswith(b"3\r\nabc\r\n0\r\nX-Checksum: 42\r\nx-MiXeD: t\r\n\r\n")


async def test_in_memory_body_with_trailers_goes_chunked() -> None:
    async def handler(req: Request) -> Response:
        return Response(200, body=Body.from_bytes(b"data", trailers=HeaderMap([("X-T", "1")])))

    async with h1_server(handler) as srv:
        data = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert b"transfer-encoding: chunked" in data
    assert data.endswith(b"4\r\ndata\r\n0\r\nX-T: 1\r\n\r\n")


async def test_large_streamed_response_reaches_the_client() -> None:
    chunk = b"x" * 65536

    async def handler(req: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            for _ in range(128):  # 8 MiB through drain() backpressure
                yield chunk

        return Response(200, body=Body.from_iter(gen(), size_hint=128 * len(chunk)))

    async with h1_server(handler) as srv, httpx.AsyncClient() as client:
        total = 0
        async with client.stream("GET", f"http://127.0.0.1:{srv.port}/") as r:
            assert r.headers["content-length"] == str(128 * len(chunk))
            async for part in r.aiter_raw():
                total += len(part)
        assert total == 128 * len(chunk)


async def test_unread_small_body_is_discarded_and_connection_kept() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("ignored the body")

    async with h1_server(handler) as srv:
        data = await exchange(
            srv.port,
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200, 200]


async def test_unread_large_body_closes_the_connection() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("no thanks")

    config = Http1Config(max_discard_size=10)
    async with h1_server(handler, config) as srv:
        data = await exchange(
            srv.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789"
        )
    ((status, headers, _, _),) = parse_responses(data)
    assert status == 200
    assert (b"connection", b"close") in headers


async def test_late_body_reads_after_the_response_fail_cleanly() -> None:
    late: list[BaseException] = []
    tasks: list[asyncio.Task[None]] = []

    async def handler(req: Request) -> Response:
        async def read_later() -> None:
            await asyncio.sleep(0.05)
            try:
                await req.body.collect()
            except Exception as exc:
                late.append(exc)

        tasks.append(asyncio.create_task(read_later()))
        return Response.text("early")

    async with h1_server(handler) as srv:
        r, w = await open_raw(srv.port)
        w.write(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await asyncio.wait_for(r.readuntil(b"early"), GUARD)
        await asyncio.wait_for(asyncio.gather(*tasks), GUARD)
        w.write(b"0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        rest = await asyncio.wait_for(r.read(), GUARD)
        w.close()
    assert len(late) == 1
    assert isinstance(late[0], ConnectionError)
    assert rest.endswith(b"early")  # the driver discarded the body and served the next request


# -- 100-continue -------------------------------------------------------------------------------


async def test_100_continue_sent_only_when_the_service_reads() -> None:
    started = asyncio.Event()
    go = asyncio.Event()

    async def handler(req: Request) -> Response:
        started.set()
        await go.wait()
        return Response.text((await req.body.collect()).decode())

    async with h1_server(handler) as srv:
        r, w = await open_raw(srv.port)
        w.write(
            b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
            b"Connection: close\r\n\r\n"
        )
        await asyncio.wait_for(started.wait(), GUARD)
        await asyncio.sleep(0.05)
        assert r.at_eof() is False
        assert not r._buffer  # type: ignore[attr-defined]  # nothing sent before the read
        go.set()
        line = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
        assert line == b"HTTP/1.1 100 Continue\r\n\r\n"
        w.write(b"data")
        rest = await asyncio.wait_for(r.read(), GUARD)
        assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
        assert rest.endswith(b"data")
        w.close()


async def test_100_continue_not_sent_when_the_service_answers_without_reading() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("nope", status=417)

    async with h1_server(handler) as srv:
        data = await exchange(
            srv.port,
            b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        )
    assert data.startswith(b"HTTP/1.1 417 Expectation Failed\r\n")
    assert b"100 Continue" not in data
    assert b"connection: close" in data


async def test_100_continue_immediate_mode() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("x")

    config = Http1Config(continue_mode=ContinueMode.IMMEDIATE)
    async with h1_server(handler, config) as srv:
        r, w = await open_raw(srv.port)
        w.write(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        line = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
        assert line == b"HTTP/1.1 100 Continue\r\n\r\n"
        w.close()


async def test_100_continue_with_curl(tmp_path: object) -> None:
    curl = require_peer("curl")
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "upload.bin"
    payload = bytes(range(256)) * 400
    path.write_bytes(payload)
    got: list[bytes] = []

    async def handler(req: Request) -> Response:
        body = await req.body.collect()
        got.append(body)
        return Response.text(f"got {len(body)}")

    async with h1_server(handler) as srv:
        proc = await asyncio.create_subprocess_exec(
            curl,
            "-sS",
            "-v",
            "--expect100-timeout",
            "30",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            f"@{path}",
            f"http://127.0.0.1:{srv.port}/upload",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert out == f"got {len(payload)}".encode()
    assert got == [payload]
    assert b"HTTP/1.1 100 Continue" in err


# -- upgrades and CONNECT ------------------------------------------------------------------------


async def _echo_upgraded(on_upgrade: OnUpgrade, done: asyncio.Future[bytes | None]) -> None:
    upgraded = await on_upgrade
    stream = upgraded.stream
    try:
        while True:
            data = await stream.read(65536)
            if not data:
                break
            stream.write(b"echo:" + data)
            await stream.drain()
        done.set_result(upgraded.protocol)
    finally:
        await stream.close()


async def test_upgrade_hands_over_the_stream_with_leftover_bytes() -> None:
    done: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
    tasks: list[asyncio.Task[None]] = []

    async def handler(req: Request) -> Response:
        on_upgrade = req.extensions.require(OnUpgrade)
        tasks.append(asyncio.create_task(_echo_upgraded(on_upgrade, done)))
        return Response(101, headers=[("Upgrade", "echo"), ("Connection", "Upgrade")])

    async with h1_server(handler) as srv:
        r, w = await open_raw(srv.port)
        # the first tunnel bytes ride in the same write as the request
        w.write(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly")
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
        assert (
            head
            == b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
        )
        assert await asyncio.wait_for(r.readexactly(10), GUARD) == b"echo:early"
        w.write(b"later")
        assert await asyncio.wait_for(r.readexactly(10), GUARD) == b"echo:later"
        w.write_eof()
        assert await asyncio.wait_for(done, GUARD) == b"echo"
        w.close()
        await asyncio.gather(*tasks)
        assert srv.conns[0].requests_served == 1


async def test_connect_hands_over_the_stream() -> None:
    done: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
    tasks: list[asyncio.Task[None]] = []
    targets: list[str] = []

    async def handler(req: Request) -> Response:
        targets.append(str(req.uri))
        tasks.append(asyncio.create_task(_echo_upgraded(req.extensions.require(OnUpgrade), done)))
        return Response(200)

    async with h1_server(handler) as srv:
        r, w = await open_raw(srv.port)
        w.write(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
        assert head == b"HTTP/1.1 200 OK\r\n\r\n"
        w.write(b"tunnel")
        assert await asyncio.wait_for(r.readexactly(11), GUARD) == b"echo:tunnel"
        w.write_eof()
        assert await asyncio.wait_for(done, GUARD) is None
        w.close()
        await asyncio.gather(*tasks)
    assert targets == ["example.com:443"]


async def test_declined_upgrade_fails_the_handle_and_keeps_http() -> None:
    errors: list[BaseException] = []

    async def handler(req: Request) -> Response:
        on_upgrade = req.extensions.get(OnUpgrade)
        if on_upgrade is not None:

            async def watch() -> None:
                try:
                    await on_upgrade
                except Exception as exc:
                    errors.append(exc)

            asyncio.get_running_loop().create_task(watch())
        return Response.text("plain")

    async with h1_server(handler) as srv:
        data = await exchange(
            srv.port,
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
            b"GET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        await asyncio.sleep(0.01)
    assert [r[2] for r in parse_responses(data)] == [b"plain", b"plain"]
    assert len(errors) == 1


async def test_connect_refused_stays_http() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("denied", status=403)

    async with h1_server(handler) as srv:
        data = await exchange(
            srv.port,
            b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n"
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
    assert [r[0] for r in parse_responses(data, [b"CONNECT", b"GET"])] == [403, 403]


# -- errors ---------------------------------------------------------------------------------------


async def test_service_exception_is_a_500_and_the_connection_survives() -> None:
    async def handler(req: Request) -> Response:
        if str(req.uri) == "/boom":
            raise RuntimeError("boom")
        return Response.text("fine")

    async with h1_server(handler) as srv:
        data = await exchange(
            srv.port,
            b"GET /boom HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\n"
            b"Host: a\r\nConnection: close\r\n\r\n",
        )
        assert len(srv.conns) == 1
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [500, 200]
    assert responses[1][2] == b"fine"


async def test_non_response_return_is_a_500() -> None:
    async def handler(req: Request) -> Response:
        return "not a response"  # type: ignore[return-value]

    async with h1_server(handler) as srv:
        data = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 ")


async def test_invalid_response_header_is_a_500() -> None:
    async def handler(req: Request) -> Response:
        resp = Response.text("x")
        resp.headers = HeaderMap.from_raw([(b"X-Bad", b"a\r\nInjected: 1")])
        return resp

    async with h1_server(handler) as srv:
        data = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 ")
    assert b"Injected" not in data


async def test_response_body_failing_mid_stream_cuts_the_connection() -> None:
    async def handler(req: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            yield b"partial"
            raise RuntimeError("disk on fire")

        return Response(200, body=Body.from_iter(gen()))

    async with h1_server(handler) as srv:
        data = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"7\r\npartial\r\n")  # no terminating chunk: the client sees truncation


async def test_bad_request_target_is_a_400() -> None:
    async with h1_server(hello) as srv:
        data = await exchange(srv.port, b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ")


SMUGGLING = [
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
        400,
        id="cl+te",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
        400,
        id="cl-cl",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501, id="te"
    ),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", 400, id="obs-fold"),
    pytest.param(b"GET / HTTP/1.1\nHost: a\n\n", 400, id="bare-lf"),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nGET /smuggled HTTP/1.1\r\n\r\n", 400, id="bare-lf-2"
    ),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-\x00A: 1\r\n\r\n", 400, id="nul-name"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \x00\r\n\r\n", 400, id="nul-value"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \x7f\r\n\r\n", 400, id="del-value"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n", 400, id="bad-name"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n", 400, id="space-before-colon"),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n",
        431,
        id="oversize",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n",
        400,
        id="bad-chunk",
    ),
    pytest.param(b"GARBAGE\r\n\r\n", 400, id="garbage"),
]


@pytest.mark.parametrize(("raw", "status"), SMUGGLING)
async def test_malformed_requests_are_answered_and_closed(raw: bytes, status: int) -> None:
    calls: list[str] = []

    async def handler(req: Request) -> Response:
        calls.append(str(req.uri))
        await req.body.collect()
        return Response.text("served")

    async with h1_server(handler) as srv:
        data = await exchange(srv.port, raw)
        assert data.startswith(b"HTTP/1.1 %d " % status), data[:80]
        assert b"connection: close" in data
        assert b"/smuggled" not in b"".join(c.encode() for c in calls)
        # the server still serves the next connection
        ok = await exchange(srv.port, b"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert ok.endswith(b"served")


# -- limits ----------------------------------------------------------------------------------------


async def test_max_header_size_limit() -> None:
    config = Http1Config(limits=HttpLimits(max_header_size=1024))
    async with h1_server(hello, config) as srv:
        small = await exchange(
            srv.port,
            b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 900 + b"\r\nConnection: close\r\n\r\n",
        )
        big = await exchange(
            srv.port, b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 1100 + b"\r\n\r\n"
        )
    assert small.startswith(b"HTTP/1.1 200 ")
    assert big.startswith(b"HTTP/1.1 431 ")


async def test_max_headers_limit() -> None:
    config = Http1Config(limits=HttpLimits(max_headers=5))
    async with h1_server(hello, config) as srv:
        many = b"".join(b"X-%d: 1\r\n" % i for i in range(5))
        data = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\n" + many + b"\r\n")
        ok = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 431 ")
    assert ok.startswith(b"HTTP/1.1 200 ")


async def test_max_body_size_with_content_length_refused_before_the_service() -> None:
    calls: list[int] = []

    async def handler(req: Request) -> Response:
        calls.append(1)
        return Response.text("x")

    config = Http1Config(limits=HttpLimits(max_body_size=10))
    async with h1_server(handler, config) as srv:
        data = await exchange(
            srv.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890"
        )
        ok = await exchange(
            srv.port,
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
            b"Connection: close\r\n\r\n0123456789",
        )
    assert data.startswith(b"HTTP/1.1 413 ")
    assert calls == [1]
    assert ok.startswith(b"HTTP/1.1 200 ")


async def test_max_body_size_chunked_is_checked_as_it_arrives() -> None:
    errors: list[BaseException] = []
    received: list[int] = []

    async def handler(req: Request) -> Response:
        n = 0
        try:
            async for chunk in req.body:
                n += len(chunk)
                received.append(n)
        except BodyLimitError as exc:
            errors.append(exc)
            raise
        return Response.text("x")

    config = Http1Config(limits=HttpLimits(max_body_size=10))
    async with h1_server(handler, config) as srv:
        r, w = await open_raw(srv.port)
        w.write(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n")
        await asyncio.sleep(0.05)
        w.write(b"6\r\nghijkl\r\n")  # the stream never ends: only the limit can end it
        data = await asyncio.wait_for(r.read(), GUARD)
        w.close()
    assert data.startswith(b"HTTP/1.1 413 ")
    assert received == [6]
    assert len(errors) == 1
    assert isinstance(errors[0], BodyTooLargeError)  # one except catches both kinds of limit


async def test_header_read_timeout_closes_a_slowloris() -> None:
    config = Http1Config(limits=HttpLimits(header_read_timeout=0.2))
    async with h1_server(hello, config) as srv:
        r, w = await open_raw(srv.port)
        w.write(b"GET / HTTP/1.1\r\nHost: a\r\n")
        for _ in range(3):
            await asyncio.sleep(0.02)
            w.write(b"X-Slow: 1\r\n")
        data = await asyncio.wait_for(r.read(), GUARD)
        w.close()
        assert data == b""  # closed without a response by default
        ok = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ")


async def test_header_read_timeout_can_answer_408() -> None:
    config = Http1Config(
        limits=HttpLimits(header_read_timeout=0.2), send_408_on_header_timeout=True
    )
    async with h1_server(hello, config) as srv:
        r, w = await open_raw(srv.port)
        w.write(b"GET / HTTP/1.1\r\nHost: a\r\n")
        data = await asyncio.wait_for(r.read(), GUARD)
        w.close()
    assert data.startswith(b"HTTP/1.1 408 ")


async def test_silent_client_is_closed_by_the_header_timeout() -> None:
    config = Http1Config(limits=HttpLimits(header_read_timeout=0.2))
    async with h1_server(hello, config) as srv:
        r, w = await open_raw(srv.port)
        assert await asyncio.wait_for(r.read(), GUARD) == b""
        w.close()


async def test_keep_alive_idle_timeout() -> None:
    config = Http1Config(limits=HttpLimits(keep_alive_timeout=0.2))
    async with h1_server(hello, config) as srv:
        r, w = await open_raw(srv.port)
        w.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        data = await asyncio.wait_for(r.read(), GUARD)  # the server closes after the idle time
        w.close()
    assert data.startswith(b"HTTP/1.1 200 ")
    assert b"connection: close" not in data


async def test_max_requests_per_connection() -> None:
    config = Http1Config(limits=HttpLimits(max_requests_per_connection=2))
    async with h1_server(hello, config) as srv:
        data = await exchange(srv.port, b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" * 3)
    responses = parse_responses(data)
    assert [r[2] for r in responses] == [b"hello /1", b"hello /1"]
    assert (b"connection", b"close") in responses[1][1]
    assert (b"connection", b"close") not in responses[0][1]


async def test_limits_are_validated() -> None:
    from pyrama_core.errors import ConfigError

    with pytest.raises(ConfigError):
        HttpLimits(max_header_size=0)
    with pytest.raises(ConfigError):
        HttpLimits(max_body_size=-1)
    with pytest.raises(ConfigError):
        HttpLimits(header_read_timeout=0)
    with pytest.raises(ConfigError):
        HttpLimits(keep_alive_timeout=float("nan"))
    with pytest.raises(ConfigError):
        HttpLimits(max_requests_per_connection=0)
    with pytest.raises(ConfigError):
        Http1Config(max_discard_size=-1)


# -- graceful shutdown -----------------------------------------------------------------------------


async def test_graceful_shutdown_closes_idle_and_finishes_in_flight() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def handler(req: Request) -> Response:
        if str(req.uri) == "/slow":
            entered.set()
            await release.wait()
        return Response.text("done")

    async with h1_server(handler) as srv:
        idle_r, idle_w = await open_raw(srv.port)
        idle_w.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        await asyncio.wait_for(idle_r.readuntil(b"done"), GUARD)
        busy_r, busy_w = await open_raw(srv.port)
        busy_w.write(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        await asyncio.wait_for(entered.wait(), GUARD)
        for conn in srv.conns:
            conn.graceful_shutdown()
        assert await asyncio.wait_for(idle_r.read(), GUARD) == b""
        release.set()
        data = await asyncio.wait_for(busy_r.read(), GUARD)
        assert data.startswith(b"HTTP/1.1 200 ")
        assert b"connection: close" in data
        idle_w.close()
        busy_w.close()
        await asyncio.wait_for(asyncio.gather(*srv.tasks), GUARD)


async def test_cancelling_the_driver_propagates() -> None:
    a, _b = mock_stream_pair()
    task = asyncio.create_task(serve_http1(a, service_fn(hello)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_socket_closed_by_client_mid_body_ends_quietly() -> None:
    errors: list[BaseException] = []

    async def handler(req: Request) -> Response:
        try:
            await req.body.collect()
        except Exception as exc:
            errors.append(exc)
            raise
        return Response.text("x")

    async with h1_server(handler) as srv:
        _r, w = await open_raw(srv.port)
        w.write(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
        await asyncio.sleep(0.05)
        w.close()
        await asyncio.wait_for(asyncio.gather(*srv.tasks), GUARD)
    assert len(errors) == 1
    assert isinstance(errors[0], ConnectionError)


async def test_streaming_body_is_closed_at_once_when_the_client_leaves() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x" * 65536
                await asyncio.sleep(0)
        finally:
            closed.set()

    async def handler(req: Request) -> Response:
        return Response(200, body=Body.from_iter(endless()))

    gc_was = gc.isenabled()
    gc.disable()  # the body must be closed by the driver, not found later by the cyclic GC
    try:
        async with h1_server(handler) as srv:
            r, w = await open_raw(srv.port)
            w.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            await r.readexactly(1000)
            w.transport.abort()
            await asyncio.wait_for(closed.wait(), GUARD)
    finally:
        if gc_was:
            gc.enable()


_FOUR_REQUESTS = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3
_FOUR_REQUESTS += b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


async def _default_and_other_codec(
    handler: Callable[[Request], Awaitable[Response]],
    codec: Callable[[Http1Config], Any],
) -> tuple[bytes, bytes, list[Http1ServerConnection]]:
    """What a client gets for _FOUR_REQUESTS from the default codec, then from *codec*."""
    outs = []
    conns = []
    for factory in (None, codec):
        cfg = (
            Http1Config(date_header=False)
            if factory is None
            else Http1Config(date_header=False, codec_factory=factory)
        )
        async with h1_server(handler, cfg) as srv:
            outs.append(await exchange(srv.port, _FOUR_REQUESTS))
            conns.append(srv.conns[0])
    assert [r[0] for r in parse_responses(outs[0], [b"GET"] * 3 + [b"HEAD"])] == [200] * 4
    return outs[0], outs[1], conns


async def test_a_codec_without_send_whole_frames_the_same_responses() -> None:
    # send_whole is optional for a codec: without it the driver uses send_response,
    # send_data and send_end, and the client sees the same bytes
    from pyrama_http_core import HttptoolsServerCodec

    class Plain(HttptoolsServerCodec):
        send_whole = None  # type: ignore[assignment]

    async def handler(request: Request) -> Response:
        return Response.text("hello", headers=[("X-Kind", "whole")])

    default, other, conns = await _default_and_other_codec(handler, lambda c: Plain(c.limits))
    assert conns[0]._send_whole is not None
    assert type(conns[1].codec) is Plain
    assert conns[1]._send_whole is None
    assert default == other
    assert default.count(b"hello") == 3


async def test_a_codec_without_implied_ends_is_asked_for_each_end() -> None:
    # EMPTY_END_IMPLIED is optional for a codec: without it the driver asks for the
    # EndOfMessage of each request without a body, and the client sees the same bytes
    from pyrama_http_core import HttptoolsServerCodec

    ends: list[int] = []

    class Strict(HttptoolsServerCodec):
        EMPTY_END_IMPLIED = False

        def next_event(self) -> ServerEvent:
            ev = super().next_event()
            if type(ev) is EndOfMessage:
                ends.append(1)
            return ev

    async def handler(request: Request) -> Response:
        return Response.text("hello")

    default, other, conns = await _default_and_other_codec(handler, lambda c: Strict(c.limits))
    assert conns[0]._end_implied
    assert not conns[1]._end_implied
    assert ends == [1] * 4  # the strict codec was asked for every end
    assert default == other
