"""examples/http_advanced_router.py: redirect, Accept-Language, API-key extractor, layer."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn


def test_advanced_router(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_advanced_router"), env={"PORT": "0", "API_KEY": "k1"})
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, timeout=20) as c:
        moved = c.get("/?name=ada")
        assert moved.status_code == 308
        assert moved.headers["location"] == "/v2/hello?name=ada"
        assert moved.headers["x-served-by"] == "pyrama-advanced-router"
        assert c.get("/v2/hello?name=ada").text == "Hello, ada!"
        nl = c.get("/v2/hello?name=ada&style=loud", headers={"Accept-Language": "xx, nl;q=0.8"})
        assert nl.text == "HALLO, ADA!"
        assert c.get("/v2/hello?style=shout").status_code == 400
        assert c.get("/v2/stats").status_code == 401
        assert c.get("/v2/stats", headers={"X-Api-Key": "bad"}).status_code == 401
        stats = c.get("/v2/stats", headers={"X-Api-Key": "k1"})
        assert stats.json() == {"hello": 2, "stats": 1}
        assert c.put("/v2/stats/reset", headers={"X-Api-Key": "k1"}).status_code == 204
        assert c.get("/v2/stats", headers={"X-Api-Key": "k1"}).json() == {"stats": 1}
        missing = c.get("/v9")
        assert missing.status_code == 404
        assert missing.json() == {"error": "not found", "path": "/v9"}
        assert missing.headers["x-served-by"] == "pyrama-advanced-router"
        assert c.post("/v2/hello").status_code == 405
    followed = peers.curl(f"{base}/?name=curl", "-L")
    assert followed == b"Hello, curl!"
