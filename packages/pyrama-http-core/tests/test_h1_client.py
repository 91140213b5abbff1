"""The HTTP/1.1 client connection driver, against raw sockets and the pyrama server driver."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pyrama_core import service_fn
from pyrama_core.errors import Side
from pyrama_http_core import (
    Http1ClientConfig,
    Http1ClientConnection,
    Http1ServerConnection,
    OnUpgrade,
    Upgraded,
)
from pyrama_http_core.errors import (
    ConnectionClosedError,
    ConnectionNotReadyError,
    HttpProtocolError,
    HttpTimeoutError,
)
from pyrama_http_types import Body, HeaderMap, Request, Response
from pyrama_net import SocketStream, SocketStreamProtocol, Stream

GUARD = 10.0

pytestmark = pytest.mark.usefixtures("each_client_codec")
"""Every driver test runs once per client codec (h11, httptools): see conftest.py."""

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@contextlib.asynccontextmanager
async def pyrama_server(
    handler: Callable[[Request], Awaitable[Response]],
) -> AsyncIterator[tuple[int, list[Http1ServerConnection]]]:
    loop = asyncio.get_running_loop()
    conns: list[Http1ServerConnection] = []
    tasks: set[asyncio.Task[None]] = set()
    svc = service_fn(handler)

    def on_connect(stream: SocketStream) -> None:
        conn = Http1ServerConnection(stream, svc)
        conns.append(conn)
        tasks.add(loop.create_task(conn.run()))

    server = await loop.create_server(
        lambda: SocketStreamProtocol(loop, on_connect=on_connect), "127.0.0.1", 0
    )
    try:
        yield server.sockets[0].getsockname()[1], conns
    finally:
        server.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def connect(port: int) -> SocketStream:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: SocketStreamProtocol(loop), "127.0.0.1", port)
    assert proto.stream is not None
    return proto.stream


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GUARD)


async def echo_service(req: Request) -> Response:
    body = await req.body.collect()
    return Response(
        200,
        headers=[("X-Method", str(req.method)), ("X-Uri", str(req.uri))],
        body=Body.from_bytes(body),
    )


# -- against the pyrama server ---------------------------------------------------------------


async def test_keep_alive_reuse_for_several_requests() -> None:
    async with pyrama_server(echo_service) as (port, conns):
        conn = Http1ClientConnection(await connect(port))
        for i in range(3):
            assert conn.is_reusable()
            resp = await conn.send_request(
                Request("POST", f"http://127.0.0.1:{port}/{i}", body=b"payload %d" % i)
            )
            assert resp.status == 200
            assert resp.headers["x-uri"] == f"http://127.0.0.1:{port}/{i}"
            assert conn.is_busy
            assert await resp.body.collect() == b"payload %d" % i
            assert not conn.is_busy
        assert conn.is_reusable()
        await conn.close()
        assert len(conns) == 1


async def test_host_header_is_added_from_the_uri_only_when_missing() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def handler(req: Request) -> Response:
        seen.append(req.headers.raw_items())
        return Response.text("ok")

    async with pyrama_server(handler) as (port, _):
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(Request("GET", f"http://127.0.0.1:{port}/a"))
        await resp.body.collect()
        resp = await conn.send_request(
            Request("GET", "/b", headers=[("X-First", "1"), ("hOsT", "custom")])
        )
        await resp.body.collect()
        await conn.close()
    assert seen[0] == [(b"Host", f"127.0.0.1:{port}".encode())]
    assert seen[1] == [(b"X-First", b"1"), (b"hOsT", b"custom")]


async def test_streamed_request_and_response_bodies_with_trailers() -> None:
    got: list[object] = []

    async def handler(req: Request) -> Response:
        async def echo() -> AsyncIterator[bytes]:
            async for chunk in req.body:
                yield chunk[::-1]
            got.append(req.body.trailers)

        return Response(
            200,
            headers=[("Trailer", "X-Done")],
            body=Body.from_iter(echo(), trailers=lambda: HeaderMap([("X-Done", "yes")])),
        )

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield b"chunk-%d" % i

    async with pyrama_server(handler) as (port, _):
        conn = Http1ClientConnection(await connect(port))
        req = Request(
            "PUT",
            "/stream",
            headers=[("Host", "x")],
            body=Body.from_iter(chunks(), trailers=lambda: HeaderMap([("X-Sent", "5")])),
        )
        resp = await asyncio.wait_for(conn.send_request(req), GUARD)
        parts = [part async for part in resp.body]
        assert b"".join(parts) == b"".join((b"chunk-%d" % i)[::-1] for i in range(5))
        assert resp.body.trailers is not None
        assert resp.body.trailers.raw_items() == [(b"X-Done", b"yes")]
        assert conn.is_reusable()
        await conn.close()
    trailers = got[0]
    assert isinstance(trailers, HeaderMap)
    assert trailers.raw_items() == [(b"X-Sent", b"5")]


async def test_expect_100_continue_with_the_pyrama_server() -> None:
    async with pyrama_server(echo_service) as (port, _):
        conn = Http1ClientConnection(
            await connect(port), Http1ClientConfig(expect_continue_timeout=30)
        )
        resp = await asyncio.wait_for(
            conn.send_request(
                Request(
                    "PUT",
                    "/",
                    headers=[("Host", "x"), ("Expect", "100-continue")],
                    body=b"after continue",
                )
            ),
            GUARD,
        )
        assert await resp.body.collect() == b"after continue"
        assert conn.is_reusable()
        await conn.close()


async def test_upgrade_returns_the_raw_stream() -> None:
    async def handler(req: Request) -> Response:
        async def tunnel(on_upgrade: OnUpgrade) -> None:
            up = await on_upgrade
            data = await up.stream.read(100)
            up.stream.write(b"server got " + data)
            await up.stream.drain()
            await up.stream.close()

        asyncio.get_running_loop().create_task(tunnel(req.extensions.require(OnUpgrade)))
        return Response(101, headers=[("Connection", "upgrade"), ("Upgrade", "x-test")])

    async with pyrama_server(handler) as (port, _):
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(
            Request(
                "GET",
                "/",
                headers=[("Host", "x"), ("Connection", "upgrade"), ("Upgrade", "x-test")],
            )
        )
        assert resp.status == 101
        up = resp.extensions.require(Upgraded)
        assert up.protocol == b"x-test"
        assert not conn.is_reusable()
        with pytest.raises(ConnectionNotReadyError):
            await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        up.stream.write(b"hi")
        assert await asyncio.wait_for(up.stream.read(100), GUARD) == b"server got hi"
        await up.stream.close()


async def test_forwarded_request_keeps_header_case_and_order_on_the_wire() -> None:
    """Server driver -> service -> client driver -> raw upstream: header bytes unchanged."""
    upstream_saw: list[bytes] = []

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_saw.append(await read_head(reader))
        writer.write(
            b"HTTP/1.1 200 OK\r\nX-Up-CaSe: 1\r\nx-up-case: 2\r\nContent-Length: 2\r\n\r\nup"
        )
        await writer.drain()
        writer.close()

    async with raw_server(upstream) as up_port:

        async def proxy(req: Request) -> Response:
            conn = Http1ClientConnection(await connect(up_port))
            resp = await conn.send_request(req)
            data = await resp.body.collect()
            await conn.close()
            return Response(resp.status, headers=resp.headers, body=data)

        async with pyrama_server(proxy) as (port, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"GET /fwd HTTP/1.1\r\nX-MiXeD-CaSe: a\r\nhost: example\r\nx-mixed-case: b\r\n"
                b"ACCEPT: */*\r\nConnection: close\r\n\r\n"
            )
            reply = await asyncio.wait_for(reader.read(), GUARD)
            writer.close()
    assert upstream_saw == [
        b"GET /fwd HTTP/1.1\r\nX-MiXeD-CaSe: a\r\nhost: example\r\nx-mixed-case: b\r\n"
        b"ACCEPT: */*\r\nConnection: close\r\n\r\n"
    ]
    assert reply.startswith(
        b"HTTP/1.1 200 OK\r\nX-Up-CaSe: 1\r\nx-up-case: 2\r\nContent-Length: 2\r\n"
    )
    assert reply.endswith(b"\r\n\r\nup")


# -- against raw peers -----------------------------------------------------------------------


async def test_connect_returns_the_tunnel_with_early_bytes() -> None:
    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        assert head.startswith(b"CONNECT example.com:443 HTTP/1.1\r\n")
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\nserver-first")
        data = await reader.read(100)
        writer.write(b"<" + data + b">")
        await writer.drain()
        writer.close()

    async with raw_server(proxy) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(
            Request("CONNECT", "example.com:443", headers=[("Host", "example.com:443")])
        )
        assert resp.status == 200
        up = resp.extensions.require(Upgraded)
        assert up.protocol is None
        stream: Stream = up.stream
        assert await asyncio.wait_for(stream.read(12), GUARD) == b"server-first"
        stream.write(b"client")
        got = b""
        while len(got) < 8:
            got += await asyncio.wait_for(stream.read(100), GUARD)
        assert got == b"<client>"
        await stream.close()


async def test_connect_refused_is_a_normal_response() -> None:
    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nauth")
        await writer.drain()

    async with raw_server(proxy) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(Request("CONNECT", "a:443", headers=[("Host", "a:443")]))
        assert resp.status == 407
        assert Upgraded not in resp.extensions
        assert await resp.body.collect() == b"auth"
        assert conn.is_reusable()
        await conn.close()


async def test_expect_100_continue_timeout_sends_the_body_anyway() -> None:
    bodies: list[bytes] = []

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)  # never says 100 Continue
        bodies.append(await reader.readexactly(4))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(
            await connect(port), Http1ClientConfig(expect_continue_timeout=0.1)
        )
        resp = await asyncio.wait_for(
            conn.send_request(
                Request(
                    "PUT", "/", headers=[("Host", "x"), ("Expect", "100-continue")], body=b"body"
                )
            ),
            GUARD,
        )
        assert resp.status == 200
        assert bodies == [b"body"]
        await conn.close()


async def test_expect_100_continue_final_answer_skips_the_body() -> None:
    extra: list[bytes] = []

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        extra.append(await reader.read())  # the client closes without sending the body

    async with raw_server(server) as port:
        conn = Http1ClientConnection(
            await connect(port), Http1ClientConfig(expect_continue_timeout=30)
        )
        resp = await asyncio.wait_for(
            conn.send_request(
                Request(
                    "PUT",
                    "/",
                    headers=[("Host", "x"), ("Expect", "100-continue")],
                    body=b"x" * 1000,
                )
            ),
            GUARD,
        )
        assert resp.status == 413
        await resp.body.collect()
        assert not conn.is_reusable()
        await conn.close()
        for _ in range(100):
            if extra:
                break
            await asyncio.sleep(0.01)
    assert extra == [b""]


async def test_interim_103_is_skipped() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        )
        await writer.drain()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        assert resp.status == 200
        assert await resp.body.collect() == b"ok"
        await conn.close()


async def test_close_delimited_response_and_no_reuse() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        assert await resp.body.collect() == b"until the end"
        assert not conn.is_reusable()
        await conn.close()


async def test_server_closing_without_a_response() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.close()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        with pytest.raises(ConnectionClosedError):
            await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        assert not conn.is_reusable()


async def test_server_closing_mid_body() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        with pytest.raises(ConnectionClosedError):
            await resp.body.collect()
        assert not conn.is_reusable()


async def test_malformed_response_is_a_remote_protocol_error() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
        await writer.drain()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        with pytest.raises(HttpProtocolError) as ei:
            await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        assert ei.value.side is Side.REMOTE
        assert conn.is_closed


async def test_invalid_request_is_a_local_protocol_error() -> None:
    async with raw_server(lambda r, w: asyncio.sleep(0)) as port:
        conn = Http1ClientConnection(await connect(port))
        req = Request("GET", "/", headers=[("Host", "x")])
        req.headers = HeaderMap.from_raw([(b"X-Bad", b"a\r\nInjected: 1")])
        with pytest.raises(HttpProtocolError) as ei:
            await conn.send_request(req)
        assert ei.value.side is Side.LOCAL


async def test_busy_connection_refuses_a_second_request() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain")
        await writer.drain()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        with pytest.raises(ConnectionNotReadyError):
            await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        assert await resp.body.collect() == b"hello"
        resp = await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        assert await resp.body.collect() == b"again"
        await conn.close()


async def test_dropping_an_unread_body_closes_the_connection() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        await resp.body.aclose()
        assert conn.is_closed
        assert not conn.is_reusable()


async def test_response_header_timeout() -> None:
    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(GUARD)

    async with raw_server(server) as port:
        conn = Http1ClientConnection(
            await connect(port), Http1ClientConfig(response_header_timeout=0.1)
        )
        with pytest.raises(HttpTimeoutError):
            await conn.send_request(Request("GET", "/", headers=[("Host", "x")]))
        assert conn.is_closed


async def test_early_response_while_the_body_is_still_streaming() -> None:
    """The server answers before reading the body: no deadlock, body sending stops."""

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
        await writer.drain()
        writer.close()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 65536

    async with raw_server(server) as port:
        conn = Http1ClientConnection(await connect(port))
        resp = await asyncio.wait_for(
            conn.send_request(
                Request("POST", "/", headers=[("Host", "x")], body=Body.from_iter(endless()))
            ),
            GUARD,
        )
        assert resp.status == 403
        assert await asyncio.wait_for(resp.body.collect(), GUARD) == b"no"
        await asyncio.wait_for(conn.close(), GUARD)


async def test_target_and_fields_go_on_the_wire_instead_of_the_request_s() -> None:
    seen: list[tuple[str, list[tuple[bytes, bytes]]]] = []
    bodies: list[bytes] = []

    async def handler(req: Request) -> Response:
        seen.append((str(req.uri), req.headers.raw_items()))
        bodies.append(await req.body.collect())
        return Response.text("ok")

    async with pyrama_server(handler) as (port, _):
        conn = Http1ClientConnection(await connect(port))
        req = Request("GET", f"http://127.0.0.1:{port}/absolute?q=1", headers=[("X-A", "1")])
        resp = await conn.send_request(req, target=b"/origin?q=1")
        assert await resp.body.collect() == b"ok"
        # the fields replace the request's; Host still comes from the request's URI
        resp = await conn.send_request(req, fields=[(b"X-B", b"2")])
        assert await resp.body.collect() == b"ok"
        # a body of its own: the request's stays unread
        post = Request("POST", f"http://127.0.0.1:{port}/b", body=b"not this")
        resp = await conn.send_request(post, body=Body.from_bytes(b"this"))
        assert await resp.body.collect() == b"ok"
        assert not post.body.is_consumed
        # a write queue that is not paused: no drain() call was needed, the connection is fine
        assert conn.is_reusable()
        await conn.close()
    host = (b"Host", f"127.0.0.1:{port}".encode())
    assert seen[0] == ("/origin?q=1", [host, (b"X-A", b"1")])
    assert seen[1] == (f"http://127.0.0.1:{port}/absolute?q=1", [host, (b"X-B", b"2")])
    assert bodies == [b"", b"", b"this"]


async def test_a_stream_without_write_paused_is_drained() -> None:
    class Plain:
        """A stream without the push-stream extras: drain() must be awaited every time."""

        def __init__(self, inner: SocketStream) -> None:
            self.inner = inner
            self.drains = 0

        async def read(self, max_bytes: int = 65536, /) -> bytes:
            return await self.inner.read(max_bytes)

        def write(self, data: bytes, /) -> None:
            self.inner.write(data)

        async def drain(self) -> None:
            self.drains += 1
            await self.inner.drain()

        def is_closing(self) -> bool:
            return self.inner.is_closing()

        async def close(self) -> None:
            await self.inner.close()

    async with pyrama_server(echo_service) as (port, _):
        stream = Plain(await connect(port))
        conn = Http1ClientConnection(stream)  # type: ignore[arg-type]
        for _ in range(2):
            resp = await conn.send_request(Request("GET", f"http://127.0.0.1:{port}/"))
            await resp.body.collect()
        await conn.close()
    assert stream.drains == 2
