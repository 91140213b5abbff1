"""The smallest useful HTTP server: a health check that answers ``200 OK`` to every request.

Load balancers and uptime monitors poll a URL and only look at the status. This server is a
:class:`~pyrama_http.HttpServer` (HTTP/1.1 and h2c on one port) whose service answers every
request, whatever its method or path, with an empty ``200 OK``.

Run it::

    python examples/http_health_check.py          # listens on 127.0.0.1:62027
    python examples/http_health_check.py 0        # or PORT=0: any free port

Then::

    curl -i http://127.0.0.1:62027/

prints ``HTTP/1.1 200 OK`` and no body. Ctrl-C (or SIGTERM) stops it gracefully.
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

DEFAULT_PORT = 62027

log = get_logger("http_health_check")


async def healthy(request: Request) -> Response:
    """Every request is answered ``200 OK`` with an empty body."""
    return Response.empty(200)


async def main(port: int) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        service_fn(healthy),
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
