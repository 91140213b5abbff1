"""examples/http_k8s_health.py: /k8s/alive and /k8s/ready (readiness follows READY_FILE)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from itsupport import Peers, Poll, Spawn


def test_probes_follow_the_ready_file(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    flag = tmp_path / "ready"
    srv = spawn(example("http_k8s_health"), env={"PORT": "0", "READY_FILE": str(flag)})
    url = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=url, timeout=20) as c:
        assert c.get("/k8s/alive").status_code == 200
        ready = c.get("/k8s/ready")
        assert ready.status_code == 503
        assert ready.text == "unavailable\n"
        flag.touch()
        assert c.get("/k8s/ready").status_code == 200
        flag.unlink()
        assert c.get("/k8s/ready").status_code == 503
        assert c.post("/k8s/ready").status_code == 405
        assert c.get("/orders/1").text == "hello from pyrama, you asked for /orders/1\n"
    assert peers.curl(f"{url}/k8s/alive") == b"ok\n"


def test_ready_after_warmup(spawn: Spawn, example: Callable[[str], list[str]], poll: Poll) -> None:
    srv = spawn(example("http_k8s_health"), env={"PORT": "0", "WARMUP": "0.2"})
    url = f"http://127.0.0.1:{srv.port}/k8s/ready"

    def ready() -> bool:
        return httpx.get(url, timeout=20).status_code == 200

    poll.until(ready, what="the readiness probe to turn 200")
