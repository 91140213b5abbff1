"""examples/http_health_check.py: every request is answered 200 with an empty body."""

from __future__ import annotations

import signal
from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn

from pyrama_testing import require_peer


def test_every_request_is_ok(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    srv = spawn(example("http_health_check"), env={"PORT": "0"})
    url = f"http://127.0.0.1:{srv.port}"
    out = peers.run(
        [require_peer("curl"), "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
         f"{url}/any/path"]
    )  # fmt: skip
    assert out.stdout == b"200 0"
    with httpx.Client(timeout=20) as c:
        for method in ("GET", "POST", "DELETE", "HEAD"):
            r = c.request(method, f"{url}/x", content=b"ignored" if method == "POST" else None)
            assert r.status_code == 200
            assert r.content == b""
    with httpx.Client(http1=False, http2=True, timeout=20) as c:
        assert c.get(url).status_code == 200
    srv.signal(signal.SIGTERM)
    assert srv.wait_exit() == 0
    assert "stopped" in srv.output()
