"""The smallest HTTP server: one service answering every request with JSON about it.

:class:`~pyrama_http.HttpServer` speaks HTTP/1.1 and HTTP/2 (h2c prior knowledge) on one
port and calls a ``Service[Request, Response]`` per request. Here the service is a plain
``async def`` turned into a service with :func:`~pyrama_core.service_fn`; it answers with
the method and path it got, as JSON.

Run it::

    python examples/http_listener_hello.py        # listens on 127.0.0.1:62010
    python examples/http_listener_hello.py 0      # or PORT=0: any free port

Then::

    curl -v http://127.0.0.1:62010/some/path            # {"method":"GET","path":"/some/path"}
    curl --http2-prior-knowledge http://127.0.0.1:62010/ # the same over h2c

Ctrl-C (or SIGTERM) stops the server gracefully.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http_types import Request, Response
from pyrama_net import SocketAddress

DEFAULT_PORT = 62010

log = get_logger("http_listener_hello")


async def hello(request: Request) -> Response:
    """Answer with the request's method, path and HTTP version as JSON."""
    return Response.json(
        {"method": str(request.method), "path": request.uri.path, "version": str(request.version)}
    )


async def main(port: int) -> None:
    """Serve :func:`hello` on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        service_fn(hello),
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
