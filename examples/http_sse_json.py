"""Server-sent events carrying JSON: a live feed of (made-up) orders.

``GET /api/orders`` streams one ``order`` event per order, its data a JSON object made with
:meth:`SseEvent.json <pyrama_http_types.SseEvent.json>` (compact, one line); a client parses
``event.data`` as JSON (:meth:`SseEvent.json_data <pyrama_http_types.SseEvent.json_data>` in
Python, ``JSON.parse`` in a browser). ``?count=N`` ends the stream after N orders (default:
endless, one every ``INTERVAL`` seconds, default 0.5). ``GET /`` shows them in a page.

Run it::

    python examples/http_sse_json.py            # 127.0.0.1:62031 (PORT=0: any free port)

Then::

    curl -N 'http://127.0.0.1:62031/api/orders?count=3'
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.sse import KeepAlive, Sse, SseEvent
from pyrama_http.web import Html, Query, Router
from pyrama_net import SocketAddress

DEFAULT_PORT = 62031

log = get_logger("http_sse_json")

ITEMS = ("coffee", "tea", "croissant", "bagel", "juice")

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>orders</title></head>
<body><h1>Orders</h1><ul id="orders"></ul>
<script>
  const list = document.getElementById("orders");
  new EventSource("/api/orders").addEventListener("order", (e) => {
    const order = JSON.parse(e.data);
    const li = document.createElement("li");
    li.textContent = `#${order.id}: ${order.quantity} x ${order.item} (${order.total})`;
    list.prepend(li);
  });
</script></body></html>
"""


@dataclass(frozen=True)
class Order:
    """One order of the feed."""

    id: int
    item: str
    quantity: int
    total: float


@dataclass
class FeedParams:
    """Query parameters of ``/api/orders``."""

    count: int | None = None


def order(n: int) -> Order:
    """The *n*-th (deterministic) order."""
    quantity = n % 3 + 1
    return Order(
        id=n, item=ITEMS[n % len(ITEMS)], quantity=quantity, total=round(2.5 * quantity, 2)
    )


def app(interval: float) -> Router:
    """The page and the JSON event stream."""
    router = Router()

    @router.get("/")
    async def index() -> Html:
        return Html(PAGE)

    @router.get("/api/orders")
    async def orders(params: Query[FeedParams]) -> Sse:
        async def feed() -> AsyncIterator[SseEvent]:
            n = 0
            while params.count is None or n < params.count:
                yield SseEvent.json(asdict(order(n)), event="order", id=str(n))
                n += 1
                await asyncio.sleep(interval)

        return Sse(feed(), keep_alive=KeepAlive(15.0))

    return router


async def main(port: int, interval: float) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

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
            float(os.environ.get("INTERVAL", "0.5")),
        )
    )
