"""asgi_app: a pyrama service as an ASGI application (driven in-process by httpx)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from pyrama_core import service_fn
from pyrama_http.asgi import AsgiLifespan, AsgiProtocolError, asgi_app
from pyrama_http_types import Body, Request, Response
from pyrama_net import SocketInfo


async def handler(request: Request) -> Response:
    if request.uri.path == "/boom":
        raise RuntimeError("boom")
    if request.uri.path == "/stream":

        async def gen() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"part{i};".encode()

        return Response(200, headers=[("Content-Type", "text/plain")], body=Body.from_iter(gen()))
    data = await request.body.collect()
    info = request.extensions.get(SocketInfo)
    return Response.json(
        {
            "method": str(request.method),
            "uri": str(request.uri),
            "version": str(request.version),
            "body": data.decode(),
            "x": request.headers.get("x-test"),
            "peer": None if info is None else list(info.peer),
        }
    )


@pytest.fixture
def client() -> httpx.AsyncClient:
    app = asgi_app(service_fn(handler))
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 4567))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_request_and_response(client: httpx.AsyncClient) -> None:
    async with client:
        r = await client.post("/p%20q?a=1", content=b"hello", headers={"X-Test": "yes"})
    assert r.status_code == 200
    assert r.json() == {
        "method": "POST",
        "uri": "/p%20q?a=1",
        "version": "HTTP/1.1",
        "body": "hello",
        "x": "yes",
        "peer": ["10.1.2.3", 4567],
    }


async def test_streamed_response(client: httpx.AsyncClient) -> None:
    async with client:
        r = await client.get("/stream")
    assert r.text == "part0;part1;part2;"
    assert r.headers["content-type"] == "text/plain"


async def test_service_failure_is_500(client: httpx.AsyncClient) -> None:
    async with client:
        r = await client.get("/boom")
    assert r.status_code == 500


async def test_lifespan_hooks_and_other_scopes() -> None:
    events: list[str] = []

    async def up() -> None:
        events.append("up")

    async def down() -> None:
        events.append("down")

    app = asgi_app(service_fn(handler), on_startup=up, on_shutdown=down)
    async with AsgiLifespan(app, required=True):
        assert events == ["up"]
    assert events == ["up", "down"]

    async def nothing() -> dict[str, str]:
        return {"type": "websocket.connect"}

    async def ignore(message: object) -> None:
        return None

    with pytest.raises(AsgiProtocolError):
        await app({"type": "websocket"}, nothing, ignore)
