"""examples/http_record_har.py: the HAR it writes validates, loads back and is redacted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from itsupport import Spawn

from pyrama_http.har import REDACTED, load_har


def test_demo_recording(spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path) -> None:
    out = tmp_path / "demo.har"
    r = spawn([*example("http_record_har"), str(out)], ready=r"^wrote 3 entries to ")
    assert r.wait_exit() == 0
    log = load_har(out)
    api, login, feed = log.entries
    assert api.request.url.endswith("/api?q=pyrama")
    assert [(q.name, q.value) for q in api.request.query_string] == [("q", "pyrama")]
    assert {h.name: h.value for h in api.request.headers}["Authorization"] == REDACTED
    assert json.loads(api.response.content.text or "")["query"] == "q=pyrama"
    assert login.request.method == "POST"
    assert login.request.post_data is not None
    assert login.request.post_data.text == "user=ada&remember=yes"
    (cookie,) = login.response.cookies
    assert (cookie.name, cookie.value, cookie.http_only) == ("session", REDACTED, True)
    assert feed.response.content.mime_type == "application/x-ndjson"
    assert feed.response.content.text == '{"event": 0}\n{"event": 1}\n{"event": 2}\n'
    assert all(e.server_ip_address == "127.0.0.1" for e in log.entries)
