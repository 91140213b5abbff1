"""An HTTP service with state and layers: an HTML greeting that counts its visitors.

Built from pyrama's web pieces: a :class:`~pyrama_http.web.Router` whose handlers take what
they need by annotation: the shared :class:`Stats` (``State[Stats]``), the peer's
:class:`~pyrama_net.SocketInfo` (``Extension[SocketInfo]``), the request path (``Uri``)
and the ``User-Agent`` (``TypedHeader[UserAgent | None]``): the signature is inspected once
when the route is added, not per request. ``http_advanced_router.py`` shows more.

Run it::

    python examples/http_service_hello.py      # listens on 127.0.0.1:62011 (PORT=0: any)

Then::

    curl http://127.0.0.1:62011/            # an HTML page: peer, path, visit number
    curl http://127.0.0.1:62011/stats       # {"requests": N}
"""

from __future__ import annotations

import asyncio
import html
import os
import sys
from dataclasses import dataclass

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.web import Extension, Html, Router, State, TypedHeader
from pyrama_http_types import Uri, UserAgent
from pyrama_net import SocketAddress, SocketInfo

DEFAULT_PORT = 62011

log = get_logger("http_service_hello")


@dataclass
class Stats:
    """Shared by every request (one event loop: a plain counter is safe)."""

    requests: int = 0


async def hello(
    stats: State[Stats],
    info: Extension[SocketInfo | None],
    uri: Uri,
    ua: TypedHeader[UserAgent | None],
) -> Html:
    """Greet the client with what the server knows about it."""
    stats.requests += 1
    peer = "unknown" if info is None else str(info.peer_address)
    agent = "no User-Agent" if ua is None else ua.value
    return Html(
        "<!doctype html><title>pyrama</title>"
        f"<h1>Hello from pyrama</h1><p>peer: {html.escape(peer)}</p>"
        f"<p>path: {html.escape(uri.path)}</p><p>agent: {html.escape(agent)}</p>"
        f"<p>visit #{stats.requests}</p>"
    )


async def stats_json(stats: State[Stats]) -> dict[str, int]:
    """The request count as JSON."""
    return {"requests": stats.requests}


def app() -> Router:
    """The routes."""
    return Router(state=Stats()).get("/", hello).get("/stats", stats_json)


async def main(port: int) -> None:
    """Serve the app on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    await HttpServer.auto().listen(
        ("127.0.0.1", port), app(), shutdown=Shutdown.with_signals(deadline=5.0), on_listening=bound
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
