"""An HTTP service with limits: a rate limit on the API, a concurrency limit on a slow path.

The stack (first = outermost)::

    TraceLayer            one access-log line per request (method, path, status, bytes, time)
    ErrorToResponseLayer  errors become responses without leaking their text
    route                 /api/*  -> HttpLimitLayer.rate(RATE per second, burst BURST)
                          /slow   -> HttpLimitLayer.concurrency(CONCURRENCY)  (reject extra)
                          others  -> unlimited

A request over the rate limit is answered ``429 Too Many Requests`` with ``Retry-After``
(whole seconds until a token is due); one over the concurrency limit ``503 Service
Unavailable``. Both limits are pyrama_core policies (``RateLimitPolicy``,
``ConcurrentPolicy``) turned into HTTP answers by :class:`~pyrama_http.layer.HttpLimitLayer`.

Run it::

    python examples/http_rate_limit.py                  # 127.0.0.1:62020
    PORT=0 RATE=2 BURST=2 CONCURRENCY=1 SLOW=2 python examples/http_rate_limit.py

Then::

    for i in 1 2 3 4; do curl -si http://127.0.0.1:62020/api/hello | head -1; done
    # 200, 200, ... then HTTP/1.1 429 Too Many Requests (see its Retry-After)
    curl http://127.0.0.1:62020/slow & curl -i http://127.0.0.1:62020/slow   # one gets 503

Ctrl-C (or SIGTERM) stops the server gracefully.
"""

from __future__ import annotations

import asyncio
import os

from pyrama_core import Service, Shutdown, layers, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.layer import ErrorToResponseLayer, HttpLimitLayer, TraceLayer
from pyrama_http_types import Request, Response
from pyrama_net import SocketAddress

DEFAULT_PORT = 62020

log = get_logger("http_rate_limit")


async def api(request: Request) -> Response:
    """The rate-limited API."""
    return Response.json({"path": request.uri.path, "ok": True})


async def slow(request: Request) -> Response:
    """A path that takes SLOW seconds (the concurrency limit's showcase)."""
    log.info("slow request started")
    await asyncio.sleep(float(os.environ.get("SLOW", "1")))
    return Response.text("slow done\n")


async def other(request: Request) -> Response:
    """Everything else: no limit."""
    return Response.text(f"hello from {request.uri.path}\n")


def build() -> Service[Request, Response]:
    """The whole service."""
    rate = float(os.environ.get("RATE", "5"))
    burst = int(os.environ.get("BURST", "5"))
    concurrency = int(os.environ.get("CONCURRENCY", "2"))
    api_svc = HttpLimitLayer.rate(rate, 1.0, burst=burst).layer(service_fn(api))
    slow_svc = HttpLimitLayer.concurrency(concurrency).layer(service_fn(slow))

    async def route(request: Request) -> Response:
        path = request.uri.path
        if path.startswith("/api/"):
            return await api_svc.serve(request)
        if path == "/slow":
            return await slow_svc.serve(request)
        return await other(request)

    log.info("limits", rate=rate, burst=burst, concurrency=concurrency)
    svc: Service[Request, Response] = layers(TraceLayer(), ErrorToResponseLayer()).into(
        service_fn(route)
    )
    return svc


async def main(port: int) -> None:
    """Serve until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        build(),
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(main(int(os.environ.get("PORT", DEFAULT_PORT))))
