"""AsgiService: ASGI 3 apps (a real Starlette app and raw ASGI callables) served by pyrama."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from http_support import GUARD, running
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from pyrama_core import Extensions
from pyrama_core.errors import ConfigError
from pyrama_http import HttpClient, HttpServer, HttpVersionPolicy
from pyrama_http.asgi import (
    AsgiDisconnectError,
    AsgiLifespan,
    AsgiLifespanError,
    AsgiService,
    Message,
    Receive,
    Scope,
    Send,
)
from pyrama_http_core import HttpLimits
from pyrama_http_types import Body, Request, Version
from pyrama_net import SocketInfo


class Gates:
    """Events a test and its app use to prove streaming (no timing)."""

    def __init__(self) -> None:
        self.first_chunk_seen = asyncio.Event()
        self.request_first_chunk = asyncio.Event()
        self.chunks_seen: list[int] = []


def starlette_app(gates: Gates) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"db": "connected", "started": True}

    async def hello(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse(f"hello {request.path_params['name']}")

    async def echo_json(request: StarletteRequest) -> JSONResponse:
        data = await request.json()
        return JSONResponse(
            {
                "got": data,
                "query": dict(request.query_params),
                "ua": request.headers.get("x-test"),
                "db": request.state.db,
                "scheme": request.url.scheme,
                "http_version": request.scope["http_version"],
                "client_host": request.client.host if request.client else None,
            }
        )

    async def stream(request: StarletteRequest) -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            yield b"first;"
            # the client must have received the first chunk before the second one exists
            await asyncio.wait_for(gates.first_chunk_seen.wait(), GUARD)
            for i in range(3):
                yield f"chunk{i};".encode()

        return StreamingResponse(gen(), media_type="text/plain")

    async def upload(request: StarletteRequest) -> JSONResponse:
        total = 0
        async for chunk in request.stream():
            if chunk:
                gates.chunks_seen.append(len(chunk))
                gates.request_first_chunk.set()
            total += len(chunk)
        return JSONResponse({"total": total, "chunks": len(gates.chunks_seen)})

    async def boom(request: StarletteRequest) -> PlainTextResponse:
        raise RuntimeError("boom")

    return Starlette(
        routes=[
            Route("/hello/{name}", hello),
            Route("/json", echo_json, methods=["POST"]),
            Route("/stream", stream),
            Route("/upload", upload, methods=["POST"]),
            Route("/boom", boom),
        ],
        lifespan=lifespan,
    )


@pytest.fixture
def gates() -> Gates:
    return Gates()


@contextlib.asynccontextmanager
async def served(gates: Gates, **kw: Any) -> AsyncIterator[tuple[str, HttpClient]]:
    svc = AsgiService(starlette_app(gates))
    async with svc.lifespan(), running(svc) as srv, HttpClient(**kw) as client:
        yield srv.url, client


async def test_starlette_routes_json_and_lifespan_state(gates: Gates) -> None:
    async with served(gates) as (url, client):
        resp = await client.get(f"{url}/hello/w%C3%B6rld").send()
        assert resp.status == 200
        assert await resp.text() == "hello wörld"
        resp = await (
            client.post(f"{url}/json").query({"a": "1"}).header("X-Test", "yes").json({"k": [1, 2]})
        )
        doc = await resp.json()
        assert doc == {
            "got": {"k": [1, 2]},
            "query": {"a": "1"},
            "ua": "yes",
            "db": "connected",
            "scheme": "http",
            "http_version": "1.1",
            "client_host": "127.0.0.1",
        }
        missing = await client.get(f"{url}/nope").send()
        assert missing.status == 404
        await missing.aclose()


async def test_starlette_over_h2c(gates: Gates) -> None:
    async with served(gates, version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE) as (url, c):
        resp = await c.post(f"{url}/json").json({"x": 1}).send()
        assert resp.version is Version.HTTP_2
        doc = await resp.json()
        assert doc["http_version"] == "2"
        assert doc["got"] == {"x": 1}


async def test_streaming_response_streams(gates: Gates) -> None:
    async with served(gates) as (url, client):
        resp = await client.get(f"{url}/stream").send()
        assert resp.headers.get("transfer-encoding") == "chunked"
        got = b""
        async for chunk in resp.stream():
            got += chunk
            if got == b"first;":
                gates.first_chunk_seen.set()
        assert got == b"first;chunk0;chunk1;chunk2;"


async def test_request_body_streams_to_the_app(gates: Gates) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        # the app must have seen the first chunk before the client sends the rest
        await asyncio.wait_for(gates.request_first_chunk.wait(), GUARD)
        for _ in range(3):
            yield b"b" * 1000

    async with served(gates) as (url, client):
        resp = await client.post(f"{url}/upload").body(body()).send()
        assert await resp.json() == {"total": 4000, "chunks": len(gates.chunks_seen)}
        assert len(gates.chunks_seen) >= 2


async def test_app_exception_is_500(gates: Gates) -> None:
    async with served(gates) as (url, client):
        resp = await client.get(f"{url}/boom").send()
        assert resp.status == 500
        await resp.aclose()
        # the connection and the server go on
        resp = await client.get(f"{url}/hello/again").send()
        assert await resp.text() == "hello again"


# -- raw ASGI apps, served in-process --------------------------------------------------------


def _request(method: str = "GET", target: str = "/", body: Body | bytes = b"") -> Request:
    ext = Extensions()
    ext.insert(SocketInfo(("127.0.0.1", 8080), ("127.0.0.1", 5555), socket.AF_INET))
    return Request(
        method, target, headers=[("X-MiXeD", "1"), ("Host", "h")], body=body, extensions=ext
    )


async def test_scope_fields() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    svc = AsgiService(app, root_path="/api")
    resp = await svc.serve(_request("GET", "/api/a%20b/%C3%A9?x=1&y=%20"))
    assert resp.status == 204
    assert seen["type"] == "http"
    assert seen["asgi"]["version"] == "3.0"
    assert seen["http_version"] == "1.1"
    assert seen["method"] == "GET"
    assert seen["scheme"] == "http"
    assert seen["path"] == "/api/a b/é"
    assert seen["raw_path"] == b"/api/a%20b/%C3%A9"
    assert seen["query_string"] == b"x=1&y=%20"
    assert seen["root_path"] == "/api"
    assert seen["headers"] == [(b"x-mixed", b"1"), (b"host", b"h")]
    assert seen["client"] == ["127.0.0.1", 5555]
    assert seen["server"] == ["127.0.0.1", 8080]
    assert "http.response.trailers" in seen["extensions"]


async def test_request_body_messages_and_disconnect_after_response() -> None:
    messages: list[Message] = []
    done = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            messages.append(msg)
            if not msg.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok", "more_body": True})
        await send({"type": "http.response.body", "body": b"!", "more_body": False})
        messages.append(await receive())
        done.set()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    svc = AsgiService(app)
    resp = await svc.serve(_request("POST", "/", Body.from_iter(chunks())))
    assert await resp.body.collect() == b"ok!"
    await asyncio.wait_for(done.wait(), GUARD)
    bodies = [m["body"] for m in messages if m["type"] == "http.request"]
    assert b"".join(bodies) == b"abcd"
    assert messages[-2]["more_body"] is False
    assert messages[-1] == {"type": "http.disconnect"}


async def test_in_memory_body_is_one_message() -> None:
    got: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})
        await send({"type": "http.response.body", "body": b"done"})

    resp = await AsgiService(app).serve(_request("POST", "/", b"payload"))
    assert got == [{"type": "http.request", "body": b"payload", "more_body": False}]
    assert resp.body.is_in_memory  # sent in full at once: no stream
    assert resp.headers.raw_items() == [(b"a", b"b")]
    assert await resp.body.collect() == b"done"


async def test_backpressure_queue_bound_and_disconnect() -> None:
    sent: list[int] = []
    outcome: list[BaseException] = []
    finished = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for i in range(100):
                await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
                sent.append(i)
        except OSError as exc:
            outcome.append(exc)
        finally:
            finished.set()

    svc = AsgiService(app, queue_size=3)
    resp = await svc.serve(_request())
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(sent) == 3  # the queue holds 3 messages; send waits for the reader
    it = resp.body.__aiter__()
    assert await it.__anext__() == b"x" * 10
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(sent) == 4
    await resp.body.aclose()  # the client is gone
    await asyncio.wait_for(finished.wait(), GUARD)
    assert len(outcome) == 1
    assert isinstance(outcome[0], AsgiDisconnectError)


async def test_failure_after_start_breaks_the_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("late failure")

    resp = await AsgiService(app).serve(_request())
    assert resp.status == 200
    with pytest.raises(Exception, match="late failure"):
        await resp.body.collect()


async def test_no_response_and_bad_start_are_500() -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    async def bad(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"bad\n", b"x")]})

    assert (await AsgiService(silent).serve(_request())).status == 500
    assert (await AsgiService(bad).serve(_request())).status == 500


async def test_trailers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"42")]})

    resp = await AsgiService(app).serve(_request())
    assert await resp.body.collect() == b"data"
    trailers = resp.body.trailers
    assert trailers is not None
    assert trailers.get("x-sum") == "42"


async def test_head_body_is_dropped_without_error() -> None:
    finished: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"b"})
        finished.append("ok")

    resp = await AsgiService(app).serve(_request("HEAD"))
    await resp.body.aclose()
    for _ in range(20):
        await asyncio.sleep(0)
    assert finished == ["ok"]


async def test_queue_size_is_validated() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(ConfigError):
        AsgiService(app, queue_size=0)


# -- lifespan -------------------------------------------------------------------------------


def _connect_database() -> None:
    raise RuntimeError("no database")


async def test_lifespan_startup_failed_raises() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _connect_database()
        yield

    app = Starlette(lifespan=lifespan)
    with pytest.raises(AsgiLifespanError, match="no database") as info:
        async with AsgiLifespan(app):
            pass
    assert info.value.phase == "startup"


async def test_lifespan_runs_shutdown_and_tolerates_apps_without_it() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async with AsgiLifespan(Starlette(lifespan=lifespan)) as ls:
        assert events == ["startup"]
        assert ls.supported
    assert events == ["startup", "shutdown"]

    async def no_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"

    async with AsgiLifespan(no_lifespan) as ls:
        assert not ls.supported
    with pytest.raises(AsgiLifespanError):
        async with AsgiLifespan(no_lifespan, required=True):
            pass


# -- a client that leaves mid-response, over real connections --------------------------------


def _endless(gone: asyncio.Event, errors: list[BaseException]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x" * 4096, "more_body": True})
        except OSError as exc:
            errors.append(exc)
            gone.set()

    return app


async def test_client_leaving_h1_makes_send_raise() -> None:
    gone = asyncio.Event()
    errors: list[BaseException] = []
    async with running(AsgiService(_endless(gone, errors))) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.read(100), GUARD)).startswith(b"HTTP/1.1 200")
        writer.close()
        # The HTTP/1.1 driver stops pulling the body when a write fails but does not close
        # it; the body is then freed with the connection's reference cycle (exception ->
        # traceback -> frame), i.e. by the cyclic GC. Collect until the app hears of it.
        async with asyncio.timeout(GUARD):
            while not gone.is_set():
                gc.collect()
                await asyncio.sleep(0.01)
    assert isinstance(errors[0], AsgiDisconnectError)


async def test_client_leaving_h2_makes_send_raise() -> None:
    gone = asyncio.Event()
    errors: list[BaseException] = []
    async with (
        running(AsgiService(_endless(gone, errors))) as srv,
        HttpClient(version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE) as client,
    ):
        resp = await client.get(f"{srv.url}/").send()
        async for _chunk in resp.stream():
            break  # leaving the loop closes the stream (RST_STREAM)
        await asyncio.wait_for(gone.wait(), GUARD)
    assert isinstance(errors[0], AsgiDisconnectError)


async def test_request_body_over_the_server_limit_is_413() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    server = HttpServer.auto(limits=HttpLimits(max_body_size=1000))

    async def big() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"z" * 500

    async with running(AsgiService(app), server) as srv, HttpClient() as client:
        small = await client.post(f"{srv.url}/").body(b"z" * 1000).send()
        assert await small.text() == "read it all"
        resp = await client.post(f"{srv.url}/").body(big()).send()
        assert resp.status == 413
        await resp.aclose()


async def test_cancelled_receive_keeps_the_body_intact() -> None:
    got: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # what Starlette's is_disconnected() does: a receive() that is cancelled at once
        probe = asyncio.ensure_future(receive())
        await asyncio.sleep(0)
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        while True:
            msg = await receive()
            got.append(msg["body"])
            if not msg["more_body"]:
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    release = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        await release.wait()
        yield b"one;"
        yield b"two"

    task = asyncio.ensure_future(
        AsgiService(app).serve(_request("POST", "/", Body.from_iter(chunks())))
    )
    for _ in range(10):
        await asyncio.sleep(0)
    release.set()
    resp = await asyncio.wait_for(task, GUARD)
    assert resp.status == 204
    assert b"".join(got) == b"one;two"
