"""examples/http_nd_json.py: a streamed NDJSON body read line by line, and an NDJSON upload."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from itsupport import Spawn


def test_stream_and_upload(spawn: Spawn, example: Callable[[str], list[str]]) -> None:
    srv = spawn(example("http_nd_json"), env={"PORT": "0"})
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, timeout=20) as c:
        with c.stream("GET", "/orders?count=25&delay=0.001") as r:
            assert r.headers["content-type"] == "application/x-ndjson"
            assert r.headers.get("transfer-encoding") == "chunked"
            orders = [json.loads(line) for line in r.iter_lines() if line]
        assert [o["id"] for o in orders] == list(range(1, 26))
        assert orders[1] == {"id": 2, "status": "paid", "total": 19.98}
        body = "".join(json.dumps({"status": o["status"]}) + "\n" for o in orders)
        counts = c.post("/orders", content=body).json()
        assert counts == {"open": 9, "paid": 8, "shipped": 8}
        bad = c.post("/orders", content=b'{"status":"x"}\nnot json\n')
        assert bad.status_code == 400
        assert "line 2" in bad.text
        assert c.get("/orders?count=100000").status_code == 400
        assert c.get("/orders?count=zero").status_code == 400
