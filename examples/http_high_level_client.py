"""The high-level HTTP client API against a local server: build, send, read.

:class:`~pyrama_http.HttpClient` wraps pyrama's pooled :class:`~pyrama_http.EasyHttpWebClient`
with a fluent request builder::

    resp = await client.get(url).header("X-Id", "1").query({"q": "x"}).send()
    data = await resp.json()

The example starts a small JSON API with :class:`~pyrama_http.HttpServer` on a free loopback
port (in the same process), then talks to it: a GET with a header, a POST with a JSON body
(``201`` and a ``Location``), query parameters, basic authentication, a streamed body, a
``404`` turned into :class:`~pyrama_http.errors.HttpStatusError` by ``raise_for_status()``,
and the same API over HTTP/2 (h2c prior knowledge). Each step prints one line.

Run it::

    python examples/http_high_level_client.py

and it prints (the port varies)::

    server listening on 127.0.0.1:PORT
    GET /users/1 -> 200 {'id': 1, 'name': 'ada', 'seen_header': 'example'}
    POST /users -> 201 location=/users/2 {'id': 2, 'name': 'grace'}
    ...
    done
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from pyrama_core import Shutdown, service_fn
from pyrama_http import HttpClient, HttpServer, HttpVersionPolicy
from pyrama_http.errors import HttpStatusError
from pyrama_http_types import Request, Response
from pyrama_net import SocketAddress

USERS: dict[int, str] = {1: "ada"}


async def api(request: Request) -> Response:
    """A tiny JSON API: ``/users/{id}``, ``POST /users``, ``/search``, ``/me``, ``/count``."""
    path = request.uri.path
    method = str(request.method)
    if method == "GET" and path.startswith("/users/"):
        uid = int(path.rsplit("/", 1)[1])
        if uid not in USERS:
            return Response.json({"error": "no such user"}, 404)
        return Response.json(
            {"id": uid, "name": USERS[uid], "seen_header": request.headers.get("x-client")}
        )
    if method == "POST" and path == "/users":
        doc: dict[str, Any] = json.loads(await request.body.collect())
        uid = max(USERS) + 1
        USERS[uid] = doc["name"]
        resp = Response.json({"id": uid, "name": doc["name"]}, 201)
        resp.headers.add("Location", f"/users/{uid}")
        return resp
    if path == "/search":
        return Response.json({"query": request.uri.query, "version": str(request.version)})
    if path == "/me":
        auth = request.headers.get("authorization") or ""
        user = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":")[0]
        return Response.json({"user": user})
    if path == "/count":
        return Response.text("".join(f"{i}\n" for i in range(5)))
    return Response.json({"error": "not found"}, 404)


async def talk(base_url: str) -> None:
    """Every step of the high-level API against *base_url*."""
    async with HttpClient(base_url=base_url, timeout=10) as client:
        resp = await client.get("/users/1").header("X-Client", "example").send()
        print(f"GET /users/1 -> {int(resp.status)} {await resp.json()}")

        resp = await client.post("/users").json({"name": "grace"}).send()
        location = resp.headers.get("location")
        print(f"POST /users -> {int(resp.status)} location={location} {await resp.json()}")

        resp = await client.get("/search").query({"q": "rama", "page": 2}).send()
        print(f"GET /search -> {(await resp.json())['query']}")

        resp = await client.get("/me").basic_auth("john", "secret").send()
        print(f"GET /me -> {(await resp.json())['user']}")

        resp = await client.get("/count").send()
        chunks = [chunk async for chunk in resp.stream()]
        print(f"GET /count -> {b''.join(chunks).decode().split()}")

        resp = await client.get("/users/999").send()
        try:
            resp.raise_for_status()
        except HttpStatusError as exc:
            print(f"GET /users/999 -> HttpStatusError {exc.status}")
            await resp.aclose()

    policy = HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE
    async with HttpClient(base_url=base_url, version_policy=policy) as h2:
        resp = await h2.get("/search").query({"over": "h2"}).send()
        print(f"h2c GET /search -> {(await resp.json())['version']}")


async def main() -> None:
    """Start the API on a free port, run :func:`talk` against it, stop the server."""
    shutdown = Shutdown(deadline=5.0)
    bound: asyncio.Future[SocketAddress] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        HttpServer.auto().listen(
            "127.0.0.1:0", service_fn(api), shutdown=shutdown, on_listening=bound.set_result
        )
    )
    addr = await bound
    print(f"server listening on {addr}")
    try:
        await talk(f"http://{addr}")
    finally:
        shutdown.trigger("example done")
        await server
    print("done")


if __name__ == "__main__":
    asyncio.run(main())
