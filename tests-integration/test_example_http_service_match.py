"""examples/http_service_match.py: matcher table order, domains, peers, headers, h2c."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn


def test_match_service(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_service_match"), env={"PORT": "0"})
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, timeout=20) as c:
        assert c.get("/").text == "<!doctype html><h1>home</h1>"
        api = c.get("/", headers={"Host": "v1.api.localhost"})
        assert api.json() == {"service": "api", "version": "1"}
        assert c.get("/", headers={"Host": "api.localhost:8080"}).json()["service"] == "api"
        assert c.get("/", headers={"Host": "notapi.localhost"}).text.startswith("<!doctype")
        assert c.post("/echo", content=b"ping \x00").content == b"ping \x00"
        assert c.get("/users/12").json() == {"user": 12}
        assert c.get("/users/x").status_code == 400
        assert c.get("/internal/a").status_code == 404  # no X-Internal header
        ok = c.get("/internal/a", headers={"X-Internal": "yes"})  # from 127.0.0.1
        assert ok.text == "internal: /internal/a"
        none = c.get("/elsewhere")
        assert none.status_code == 404
        assert none.text == "no match\n"
    assert peers.curl(f"{base}/elsewhere", "--http2-prior-knowledge") == b"served over HTTP/2"
