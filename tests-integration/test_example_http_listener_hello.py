"""examples/http_listener_hello.py: JSON about the request, over HTTP/1.1 (httpx) and h2c (curl)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn


def test_hello_h1_and_h2c(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_listener_hello"), env={"PORT": "0"})
    base = f"http://127.0.0.1:{srv.port}"
    r = httpx.get(f"{base}/some/path?x=1", timeout=20)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"method": "GET", "path": "/some/path", "version": "HTTP/1.1"}
    r = httpx.post(f"{base}/p", content=b"ignored", timeout=20)
    assert r.json()["method"] == "POST"
    out = peers.curl(f"{base}/h2", "--http2-prior-knowledge")
    assert json.loads(out) == {"method": "GET", "path": "/h2", "version": "HTTP/2"}
    srv.signal(signal.SIGTERM)
    assert srv.wait_exit() == 0
    assert "stopped" in srv.output()
