"""HTTP/2 drivers under misbehaving services and failing transports.

* a service that returns no Response, or a response that cannot be sent, gets a 500 on its
  stream while the connection and the other streams go on;
* connection-specific fields (an HTTP/1.1 response relayed as is) are dropped, not fatal;
* any error the transport raises on a read (a TLS alert, a wrapper's own error) fails every
  in-flight stream at once and closes the connection, without stray task exceptions.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from h2_support import h2_pair, socket_pair

from pyrama_core import Extensions, service_fn
from pyrama_core.errors import PyramaError
from pyrama_http_core import H2ClientConnection, serve_h2
from pyrama_http_core.errors import ConnectionClosedError, HttpProtocolError
from pyrama_http_types import Body, HeaderMap, Request, Response
from pyrama_net import SocketStream
from pyrama_net.errors import StreamError

GUARD = 10.0


# -- misbehaving services -----------------------------------------------------------------


class BrokenHeaders(HeaderMap):
    """Headers that fail when the driver reads them (a response object that is half-built)."""

    def lower_items(self) -> list[tuple[bytes, bytes]]:
        raise RuntimeError("headers not ready")


def _bad_response(path: str) -> Any:
    if path == "/none":
        return None
    if path == "/text":
        return "a string, not a Response"
    if path == "/pseudo":
        return Response(200, headers=HeaderMap.from_raw([(b":bad", b"1")]), body=b"x")
    if path == "/crlf":
        return Response(200, headers=HeaderMap.from_raw([(b"x-a", b"1\r\nx-b: 2")]))
    if path == "/informational":
        return Response(101, body=b"")
    if path == "/broken-headers":
        resp = Response.text("never sent")
        resp.headers = BrokenHeaders()
        return resp
    raise AssertionError(path)


BAD_PATHS = ["/none", "/text", "/pseudo", "/crlf", "/informational", "/broken-headers"]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_unsendable_service_result_is_500_and_the_connection_goes_on(path: str) -> None:
    gate = asyncio.Event()
    slow_started = asyncio.Event()

    async def handler(req: Request) -> Response:
        p = req.uri.path
        if p == "/slow":
            slow_started.set()
            await gate.wait()
            return Response.text("slow done")
        if p == "/ok":
            return Response(200, headers={"x-echo": req.headers.get("x-in") or ""}, body=b"ok")
        result: Response = _bad_response(p)
        return result

    async with h2_pair(handler) as (client, _):
        slow = asyncio.create_task(client.send_request(Request("GET", "http://t/slow")))
        try:
            await asyncio.wait_for(slow_started.wait(), GUARD)
            req = Request("GET", f"http://t{path}")
            resp = await asyncio.wait_for(client.send_request(req), GUARD)
            assert resp.status == 500
            assert await resp.body.collect() == b"internal server error\n"
            # the same connection still serves, with its header compression state in step
            for i in range(3):
                req = Request("GET", "http://t/ok", headers={"x-in": f"v{i}"})
                resp = await asyncio.wait_for(client.send_request(req), GUARD)
                assert resp.status == 200
                assert resp.headers["x-echo"] == f"v{i}"
                assert await resp.body.collect() == b"ok"
            gate.set()
            resp = await asyncio.wait_for(slow, GUARD)
            assert await resp.body.collect() == b"slow done"
            assert not client.closed
        finally:
            slow.cancel()


async def test_connection_specific_response_fields_are_dropped() -> None:
    # what an HTTP/1.1 origin's response carries when a proxy relays it over HTTP/2
    hop_by_hop = [
        ("Connection", "keep-alive, x-private"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "gzip"),
        ("X-Kept", "yes"),
    ]

    async def handler(req: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            yield b"streamed"

        if req.uri.path == "/stream":
            streamed = HeaderMap([("Connection", "close"), ("x-trailer", "t")])
            body = Body.from_iter(gen(), trailers=lambda: streamed)
            return Response(200, headers=hop_by_hop, body=body)
        trailers = HeaderMap([("Transfer-Encoding", "chunked"), ("x-trailer", "m")])
        return Response(200, headers=hop_by_hop, body=Body.from_bytes(b"memory", trailers=trailers))

    async with h2_pair(handler) as (client, _):
        for path, data, trailer in (("/stream", b"streamed", "t"), ("/memory", b"memory", "m")):
            resp = await asyncio.wait_for(
                client.send_request(Request("GET", f"http://t{path}")), GUARD
            )
            assert resp.status == 200
            names = [n for n, _ in resp.headers.lower_items()]
            assert "x-kept" in resp.headers
            for dropped in (b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te"):
                assert dropped not in names
            assert await resp.body.collect() == data
            assert resp.body.trailers is not None
            assert [n for n, _ in resp.body.trailers.lower_items()] == [b"x-trailer"]
            assert resp.body.trailers["x-trailer"] == trailer


async def test_client_refuses_invalid_request_fields_before_sending() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("ok")

    async with h2_pair(handler) as (client, _):
        bad = Request("GET", "http://t/", headers=HeaderMap.from_raw([(b":nope", b"1")]))
        with pytest.raises(HttpProtocolError, match="field name"):
            await client.send_request(bad)
        trailers = HeaderMap.from_raw([(b"x-t", b"a\nb")])
        bad = Request("POST", "http://t/", body=Body.from_bytes(b"x", trailers=trailers))
        with pytest.raises(HttpProtocolError, match="CR, LF or NUL"):
            await client.send_request(bad)
        assert client.in_flight == 0

        # a streamed body's trailers are known only at its end, after the head went out
        async def chunks() -> AsyncIterator[bytes]:
            yield b"part"

        bad_trailers = HeaderMap.from_raw([(b":late", b"1")])
        body = Body.from_iter(chunks(), trailers=lambda: bad_trailers)
        bad = Request("POST", "http://t/", body=body)
        with pytest.raises(HttpProtocolError, match="field name"):
            await asyncio.wait_for(client.send_request(bad), GUARD)
        resp = await client.send_request(Request("GET", "http://t/"))
        assert await resp.body.collect() == b"ok"


# -- failing transports -------------------------------------------------------------------


class FakeTlsAlert(StreamError):
    """Stands in for pyrama_tls' TlsStreamError: a pyrama error, not an OSError."""


class FailingStream:
    """A socket stream whose reads (and then writes, closes) fail once :meth:`fail` is called."""

    def __init__(
        self,
        inner: SocketStream,
        read_error: Exception,
        *,
        write_error: Exception | None = None,
        close_error: Exception | None = None,
    ) -> None:
        self._inner = inner
        self._read_error = read_error
        self._write_error = write_error
        self._close_error = close_error
        self._failed = asyncio.get_running_loop().create_future()

    def fail(self) -> None:
        """From now on the stream is broken."""
        if not self._failed.done():
            self._failed.set_result(None)

    @property
    def extensions(self) -> Extensions:
        return self._inner.extensions

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        if not self._failed.done():
            reading = asyncio.ensure_future(self._inner.read(max_bytes))
            await asyncio.wait({reading, self._failed}, return_when=asyncio.FIRST_COMPLETED)
            if reading.done():
                return reading.result()
            reading.cancel()
        raise self._read_error

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        if self._failed.done() and self._write_error is not None:
            raise self._write_error
        self._inner.write(data)

    async def drain(self) -> None:
        await self._inner.drain()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._failed.done() and self._write_error is not None:
            raise self._write_error
        self._inner.write_eof()

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    async def close(self) -> None:
        await self._inner.close()
        if self._close_error is not None:
            raise self._close_error


FAILURES: dict[str, dict[str, Exception | None]] = {
    "tls-alert": {
        "read_error": FakeTlsAlert("TLS read failed: tlsv13 alert certificate required"),
        "write_error": FakeTlsAlert("write after a fatal alert"),
    },
    "pyrama-error-close-fails": {
        "read_error": PyramaError("transport broke"),
        "close_error": PyramaError("close failed too"),
    },
    "foreign-error": {
        "read_error": ValueError("a wrapper's own error"),
        "write_error": ValueError("and on write"),
    },
}


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler (e.g. "Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: seen.append(ctx))
    yield seen
    loop.set_exception_handler(old)


async def _settle() -> None:
    for _ in range(3):
        gc.collect()  # finished tasks with unretrieved exceptions report when collected
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_client_read_error_fails_in_flight_requests_at_once(
    failure: str, loop_errors: list[dict[str, Any]]
) -> None:
    read_error = FAILURES[failure]["read_error"]
    assert read_error is not None
    release = asyncio.Event()
    started = 0

    async def handler(req: Request) -> Response:
        nonlocal started
        started += 1
        if req.uri.path == "/streaming":

            async def gen() -> AsyncIterator[bytes]:
                yield b"head of the body"
                await release.wait()
                yield b"never"

            return Response(200, body=Body.from_iter(gen()))
        await release.wait()
        return Response.text("late")

    cs, ss = await socket_pair()
    stream = FailingStream(
        cs,
        read_error,
        write_error=FAILURES[failure].get("write_error"),
        close_error=FAILURES[failure].get("close_error"),
    )
    server = asyncio.create_task(serve_h2(ss, service_fn(handler)))
    client = H2ClientConnection(stream, default_scheme="http")
    try:
        streaming = await asyncio.wait_for(
            client.send_request(Request("GET", "http://t/streaming")), GUARD
        )
        chunks = aiter(streaming.body)
        first = await asyncio.wait_for(anext(chunks), GUARD)
        assert first == b"head of the body"
        waiting = [
            asyncio.create_task(client.send_request(Request("GET", f"http://t/{i}")))
            for i in range(3)
        ]
        for _ in range(1000):
            if started == 4:
                break
            await asyncio.sleep(0.005)
        assert started == 4
        stream.fail()  # e.g. the server's TLS alert arrives
        results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), GUARD)
        for res in results:
            assert isinstance(res, ConnectionClosedError)
            assert res.__cause__ is read_error
            assert str(read_error) in str(res)
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(anext(chunks), GUARD)
        await asyncio.wait_for(client.wait_closed(), GUARD)
        assert client.closed
        assert not client.is_usable()
        with pytest.raises(ConnectionClosedError):
            await client.send_request(Request("GET", "http://t/after"))
    finally:
        release.set()
        await asyncio.wait_for(client.close(), GUARD)  # idempotent, even if close fails
        await asyncio.wait_for(server, GUARD)
    await _settle()
    assert loop_errors == []


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_server_read_error_cancels_stream_tasks_and_closes(
    failure: str, loop_errors: list[dict[str, Any]]
) -> None:
    read_error = FAILURES[failure]["read_error"]
    assert read_error is not None
    started = 0
    cancelled = 0
    never = asyncio.Event()

    async def handler(req: Request) -> Response:
        nonlocal started, cancelled
        started += 1
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled += 1
            raise
        return Response.text("unreachable")

    cs, ss = await socket_pair()
    stream = FailingStream(
        ss,
        read_error,
        write_error=FAILURES[failure].get("write_error"),
        close_error=FAILURES[failure].get("close_error"),
    )
    server = asyncio.create_task(serve_h2(stream, service_fn(handler)))
    client = H2ClientConnection(cs, default_scheme="http")
    try:
        reqs = [
            asyncio.create_task(client.send_request(Request("GET", f"http://t/{i}")))
            for i in range(3)
        ]
        for _ in range(1000):
            if started == 3:
                break
            await asyncio.sleep(0.005)
        assert started == 3
        stream.fail()
        await asyncio.wait_for(server, GUARD)  # returns: no error escapes serve_h2
        assert cancelled == 3
        # the client sees the connection end instead of hanging
        results = await asyncio.wait_for(asyncio.gather(*reqs, return_exceptions=True), GUARD)
        assert all(isinstance(r, ConnectionClosedError) for r in results)
    finally:
        await asyncio.wait_for(client.close(), GUARD)
    await _settle()
    assert loop_errors == []
