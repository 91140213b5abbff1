"""examples/http_asgi_app.py: a Starlette app on pyrama's HttpServer, asked by curl."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

from itsupport import Peers, Spawn


def test_routes_over_h1_and_h2c_then_sigterm(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    r = spawn([*example("http_asgi_app"), "0"])
    assert "app startup" in r.output()
    base = f"http://127.0.0.1:{r.port}"

    assert peers.curl(f"{base}/", "--http1.1") == b"hello from starlette on pyrama (HTTP/1.1)\n"
    assert peers.curl(f"{base}/", "--http2-prior-knowledge") == (
        b"hello from starlette on pyrama (HTTP/2)\n"
    )
    doc = json.loads(peers.curl(f"{base}/users/7", "--http2-prior-knowledge"))
    assert doc == {"id": 7, "name": "user-7", "of": 42}
    echoed = json.loads(peers.curl(f"{base}/echo", "-d", '{"name": "x"}'))
    assert echoed == {"got": {"name": "x"}, "bytes": 13}
    assert peers.curl(f"{base}/stream", "-N") == b"".join(f"line {i}\n".encode() for i in range(5))

    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
    out = r.output()
    assert "app shutdown" in out
    assert "stopped" in out
