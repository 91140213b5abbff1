"""examples/http_telemetry.py: spans continue curl's traceparent, metrics count requests."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

from itsupport import Peers, Spawn

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def test_spans_request_ids_and_metrics(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    r = spawn(example("http_telemetry"), env={"PORT": "0"})
    base = f"http://127.0.0.1:{r.port}"
    head = peers.curl(base + "/hello", "-i", "-H", f"traceparent: 00-{TRACE}-{PARENT}-01")
    text = head.decode()
    assert text.startswith("HTTP/1.1 200")
    rid = next(
        line.split(":", 1)[1].strip()
        for line in text.split("\r\n")
        if line.lower().startswith("x-request-id:")
    )
    assert f"(request {rid})" in text
    line = r.wait_for(rf"span ended.*trace_id={TRACE}").string
    assert f"parent_span_id={PARENT}" in line
    assert "kind=SERVER" in line
    assert "status_code=200" in line
    r.wait_for(r"http request.*path=/hello.*status=200")
    assert peers.curl(base + "/other", "-H", "x-request-id: mine", "-i").count(b"mine") == 2

    points = json.loads(peers.curl(base + "/metrics"))
    durations = [p for p in points if p["name"] == "http.server.request.duration"]
    ok = [p for p in durations if p["attributes"].get("http.response.status_code") == 200]
    assert sum(p["count"] for p in ok) == 2
    assert ok[0]["attributes"]["http.request.method"] == "GET"
    assert ok[0]["attributes"]["url.scheme"] == "http"
    active = [p for p in points if p["name"] == "http.server.active_requests"]
    assert sum(p["value"] for p in active) == 1  # the /metrics request itself
    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
