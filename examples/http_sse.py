"""Server-sent events: a page that shows a live counter pushed by the server.

``GET /`` is an HTML page whose ``EventSource`` listens to ``GET /api/events``: a
:class:`~pyrama_http.sse.Sse` response streaming a ``tick`` event with a counter every
``INTERVAL`` seconds (default 1), each with an ``id`` (a browser that reconnects sends it
back as ``Last-Event-ID`` and the count resumes from there). Quiet streams get a keep-alive
comment every 15 seconds. The stream ends when the client goes away.

Run it::

    python examples/http_sse.py                 # 127.0.0.1:62030 (PORT=0: any free port)

Open http://127.0.0.1:62030/ in a browser, or::

    curl -N http://127.0.0.1:62030/api/events
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.sse import KeepAlive, Sse, SseEvent
from pyrama_http.web import Html, Router
from pyrama_http_types import Request
from pyrama_net import SocketAddress

DEFAULT_PORT = 62030

log = get_logger("http_sse")

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pyrama SSE</title></head>
<body>
<h1>Server-sent events</h1>
<p>count: <span id="count">...</span></p>
<script>
  const source = new EventSource("/api/events");
  source.addEventListener("tick", (e) => {
    document.getElementById("count").textContent = e.data;
  });
</script>
</body></html>
"""


def app(interval: float) -> Router:
    """The page and the event stream."""
    router = Router()

    @router.get("/")
    async def index() -> Html:
        return Html(PAGE)

    @router.get("/api/events")
    async def events(request: Request) -> Sse:
        last = request.headers.get("last-event-id") or ""
        start = int(last) + 1 if last.isdigit() else 0

        async def ticks() -> AsyncIterator[SseEvent]:
            n = start
            while True:
                yield SseEvent(event="tick", data=str(n), id=str(n))
                n += 1
                await asyncio.sleep(interval)

        return Sse(ticks(), keep_alive=KeepAlive(15.0))

    return router


async def main(port: int, interval: float) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr), interval=interval)

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        app(interval),
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(
            int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)),
            float(os.environ.get("INTERVAL", "1")),
        )
    )
