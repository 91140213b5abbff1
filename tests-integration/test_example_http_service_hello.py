"""examples/http_service_hello.py: state, the peer address and the User-Agent in the page."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn


def test_greeting_counts_visits(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    srv = spawn(example("http_service_hello"), env={"PORT": "0"})
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, timeout=20, headers={"User-Agent": "it-test/1"}) as c:
        first = c.get("/hello/there")
        assert first.status_code == 404  # only / and /stats are routes
        page = c.get("/")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "peer: 127.0.0.1:" in page.text
        assert "agent: it-test/1" in page.text
        assert "visit #1" in page.text
        assert "visit #2" in c.get("/").text
        assert c.get("/stats").json() == {"requests": 2}
    assert b"agent: curl/" in peers.curl(f"{base}/")
