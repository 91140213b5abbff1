"""examples/http_rate_limit.py: curl sees 429 + Retry-After on the API and 503 on /slow."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Callable

from itsupport import Peers, Spawn

from pyrama_testing import require_peer


def status_and_headers(out: bytes) -> tuple[int, dict[str, str]]:
    text = out.decode("latin-1")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def test_rate_limit_and_concurrency_limit(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    r = spawn(
        example("http_rate_limit"),
        env={"PORT": "0", "RATE": "0.2", "BURST": "2", "CONCURRENCY": "1", "SLOW": "3"},
    )
    base = f"http://127.0.0.1:{r.port}"
    curl = require_peer("curl")

    def get(path: str) -> tuple[int, dict[str, str]]:
        out = peers.run([curl, "-si", "--max-time", "30", base + path])
        assert out.returncode == 0, out.stderr
        return status_and_headers(out.stdout)

    assert get("/api/a")[0] == 200
    assert get("/api/b")[0] == 200
    status, headers = get("/api/c")
    assert status == 429
    assert 1 <= int(headers["retry-after"]) <= 5  # one token per 5 s
    assert get("/free")[0] == 200  # not limited
    r.wait_for(r"http request.*path=/api/c.*status=429")

    # /slow: one at a time, a second request while the first runs is refused
    mark = r.line_count()
    first = subprocess.Popen(
        [curl, "-s", "--max-time", "30", base + "/slow"], stdout=subprocess.PIPE
    )
    try:
        r.wait_for(r"slow request started", start=mark)
        status, headers = get("/slow")
        assert status == 503
        assert headers["retry-after"] == "1"
    finally:
        out, _ = first.communicate(timeout=30)
    assert out == b"slow done\n"
    assert re.search(r"http request.*path=/slow.*status=503", r.output())
    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
