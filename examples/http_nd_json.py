r"""Newline-delimited JSON, streamed: one object per line, sent as it is produced.

``GET /orders?count=N`` answers ``application/x-ndjson`` with a body that is an async
generator: every line goes out as soon as it is made (chunked over HTTP/1.1), so a client
can process the first order before the last one exists. ``POST /orders`` reads an NDJSON
body and answers with a count per status.

Run it::

    python examples/http_nd_json.py      # listens on 127.0.0.1:62015 (PORT=0: any)

Then::

    curl -N 'http://127.0.0.1:62015/orders?count=5'
    printf '{"status":"paid"}\n{"status":"open"}\n' | \
        curl --data-binary @- -H 'content-type: application/x-ndjson' http://127.0.0.1:62015/orders
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.web import ExtractError, Query, Router
from pyrama_net import SocketAddress

DEFAULT_PORT = 62015
MAX_COUNT = 10_000

log = get_logger("http_nd_json")

STATUSES = ("open", "paid", "shipped")


@dataclass
class Listing:
    """``?count=`` (how many orders) and ``?delay=`` (seconds between them)."""

    count: int = 10
    delay: float = 0.01


async def orders(listing: Query[Listing]) -> tuple[int, dict[str, str], AsyncIterator[bytes]]:
    """Stream *count* orders, one JSON object per line."""
    if not 0 <= listing.count <= MAX_COUNT:
        raise ExtractError(f"count must be within 0..{MAX_COUNT}", status=400, field="count")
    delay = min(max(listing.delay, 0.0), 1.0)

    async def lines() -> AsyncIterator[bytes]:
        for i in range(listing.count):
            order = {"id": i + 1, "status": STATUSES[i % 3], "total": round(9.99 * (i + 1), 2)}
            yield json.dumps(order, separators=(",", ":")).encode() + b"\n"
            if delay:
                await asyncio.sleep(delay)

    return 200, {"Content-Type": "application/x-ndjson"}, lines()


async def count(body: bytes) -> dict[str, int]:
    """Count the orders of an NDJSON body by status (``400`` for a bad line)."""
    counts: dict[str, int] = {}
    for n, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            status = str(json.loads(line)["status"])
        except (ValueError, KeyError, TypeError):
            raise ExtractError(f"line {n} is not an order object", status=400) from None
        counts[status] = counts.get(status, 0) + 1
    return counts


def app() -> Router:
    """The routes."""
    return Router().get("/orders", orders).post("/orders", count)


async def main(port: int) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

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
