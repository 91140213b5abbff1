"""A Starlette (ASGI) application served by pyrama's HttpServer: HTTP/1.1 and HTTP/2.

:class:`~pyrama_http.asgi.AsgiService` turns any ASGI 3 application into a pyrama
``Service[Request, Response]``, so :class:`~pyrama_http.HttpServer` serves it like any other
service: HTTP/1.1 and h2c (prior knowledge) on one port, with pyrama's limits and graceful
shutdown. ``service.lifespan()`` runs the app's lifespan: its startup state (here a fake
database) reaches every request as ``request.state``; a failing startup stops the server
before it listens.

Run it (needs ``starlette``)::

    python examples/http_asgi_app.py          # listens on 127.0.0.1:62090
    python examples/http_asgi_app.py 0        # or PORT=0: any free port

Then::

    curl http://127.0.0.1:62090/                               # hello from starlette on pyrama
    curl --http2-prior-knowledge http://127.0.0.1:62090/users/7   # {"id":7,"name":"user-7",...}
    curl -d '{"name": "x"}' http://127.0.0.1:62090/echo        # the JSON back, with its size
    curl -N http://127.0.0.1:62090/stream                      # 5 lines, streamed one by one

Ctrl-C (or SIGTERM) stops accepting, finishes requests in flight and runs the app's
shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.asgi import AsgiService

DEFAULT_PORT = 62090

log = get_logger("http_asgi_app")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    """Startup and shutdown: the yielded state is ``request.state`` in every handler."""
    log.info("app startup")
    yield {"db": {"users": 42}}
    log.info("app shutdown")


async def hello(request: Request) -> PlainTextResponse:
    """``GET /``: a greeting naming the HTTP version."""
    return PlainTextResponse(
        f"hello from starlette on pyrama (HTTP/{request.scope['http_version']})\n"
    )


async def user(request: Request) -> JSONResponse:
    """``GET /users/{id}``: a path parameter and the lifespan state."""
    uid = int(request.path_params["id"])
    return JSONResponse({"id": uid, "name": f"user-{uid}", "of": request.state.db["users"]})


async def echo(request: Request) -> JSONResponse:
    """``POST /echo``: read the (streamed) JSON body and send it back with its size."""
    raw = await request.body()
    return JSONResponse({"got": await request.json(), "bytes": len(raw)})


async def stream(request: Request) -> StreamingResponse:
    """``GET /stream``: five lines, each sent as its own chunk."""

    async def lines() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"line {i}\n".encode()
            await asyncio.sleep(0.05)

    return StreamingResponse(lines(), media_type="text/plain")


app = Starlette(
    routes=[
        Route("/", hello),
        Route("/users/{id:int}", user),
        Route("/echo", echo, methods=["POST"]),
        Route("/stream", stream),
    ],
    lifespan=lifespan,
)


async def main(port: int) -> None:
    """Run the app's startup, serve it on 127.0.0.1:*port* until SIGINT/SIGTERM, shut down."""
    service = AsgiService(app)
    async with service.lifespan():
        shutdown = Shutdown.with_signals(deadline=5.0)
        await HttpServer.auto().listen(("127.0.0.1", port), service, shutdown=shutdown)
    log.info("stopped")


def port_from_args(default: int) -> int:
    """The port from the first argument, else the ``PORT`` variable, else *default*."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", default))


if __name__ == "__main__":
    setup_logging()
    asyncio.run(main(port_from_args(DEFAULT_PORT)))
