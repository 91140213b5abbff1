"""examples/http_sse.py: the page and a tick stream that resumes from Last-Event-ID."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn

from pyrama_testing import require_peer


def read_ticks(
    url: str, n: int, headers: dict[str, str] | None = None, h2: bool = False
) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    with (
        httpx.Client(http1=not h2, http2=h2, timeout=20) as c,
        c.stream("GET", url, headers=headers) as r,
    ):
        assert r.headers["content-type"] == "text/event-stream"
        event = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                got.append((event, line[6:]))
                if len(got) == n:
                    break
    return got


def test_ticks(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_sse"), env={"PORT": "0", "INTERVAL": "0.01"})
    base = f"http://127.0.0.1:{srv.port}"
    assert b"new EventSource" in peers.curl(f"{base}/")
    assert read_ticks(f"{base}/api/events", 3) == [("tick", "0"), ("tick", "1"), ("tick", "2")]
    resumed = read_ticks(f"{base}/api/events", 2, {"Last-Event-ID": "41"}, h2=True)
    assert resumed == [("tick", "42"), ("tick", "43")]
    # curl reads until it has enough bytes, then stops; the server goes on serving
    out = peers.run([require_peer("curl"), "-sN", "--max-time", "2", f"{base}/api/events"])
    assert out.stdout.startswith(b"event: tick\nid: 0\ndata: 0\n\n")
    assert read_ticks(f"{base}/api/events", 1) == [("tick", "0")]
