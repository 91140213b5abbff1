"""examples/http_sse_json.py: JSON events, read with pyrama's own SSE client reader."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from itsupport import Peers, Spawn

from pyrama_http import HttpClient
from pyrama_http.sse import read_sse_events


async def orders(url: str) -> list[tuple[str | None, str | None, object]]:
    async with HttpClient() as client:
        resp = await client.get(url)
        assert resp.headers["content-type"] == "text/event-stream"
        return [(e.event, e.id, e.json_data()) async for e in read_sse_events(resp)]


def test_json_feed(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_sse_json"), env={"PORT": "0", "INTERVAL": "0"})
    base = f"http://127.0.0.1:{srv.port}"
    got = asyncio.run(orders(f"{base}/api/orders?count=3"))
    assert got == [
        ("order", "0", {"id": 0, "item": "coffee", "quantity": 1, "total": 2.5}),
        ("order", "1", {"id": 1, "item": "tea", "quantity": 2, "total": 5.0}),
        ("order", "2", {"id": 2, "item": "croissant", "quantity": 3, "total": 7.5}),
    ]
    raw = peers.curl(f"{base}/api/orders?count=1", "-N")
    assert (
        raw == b'event: order\nid: 0\ndata: {"id":0,"item":"coffee","quantity":1,"total":2.5}\n\n'
    )
    assert b"JSON.parse" in peers.curl(f"{base}/")
