"""examples/http_web_router.py: params, tuples, wildcards, nesting, JSON in/out, 404/405."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn


def test_router(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_web_router"), env={"PORT": "0"})
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, timeout=20) as c:
        assert "<h1>pyrama router</h1>" in c.get("/").text
        assert c.get("/greet/py%20rama").text == "Hello, py rama!"
        assert c.get("/sum/2/40").json() == {"sum": 42}
        assert c.get("/sum/2/x").status_code == 400
        assert c.get("/files/a/b/c.txt").text == "file: a/b/c.txt"
        assert c.get("/files/").text == "file: (root)"
        made = c.post("/api/v1/users", json={"name": "ada", "admin": True})
        assert made.status_code == 201
        assert made.headers["location"] == "/api/v1/users/1"
        assert made.json() == {"id": 1, "name": "ada", "admin": True}
        assert c.get("/api/v1/users/1").json() == {"id": 1, "name": "ada", "admin": True}
        assert c.get("/api/v1/users/2").status_code == 404
        bad = c.post("/api/v1/users", json={"admin": True})
        assert bad.status_code == 422
        assert bad.json() == {"error": "name: missing field", "field": "name"}
        nope = c.delete("/api/v1/users/1")
        assert nope.status_code == 405
        assert nope.headers["allow"] == "GET, HEAD"
        assert c.get("/nowhere").status_code == 404
    assert peers.curl(f"{base}/greet/curl", "--http2-prior-knowledge") == b"Hello, curl!"
