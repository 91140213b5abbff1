"""examples/http_sse_datastar_hello.py: Datastar events typed out, signals read from the query."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
from itsupport import Peers, Spawn

from pyrama_http_types import PatchElements, PatchSignals, SseParser, parse_datastar_event


def events_of(raw: bytes) -> list[object]:
    p = SseParser()
    return [parse_datastar_event(e) for e in p.feed(raw) + p.finish()]


def test_hello_world_stream(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    js = tmp_path / "datastar.js"
    js.write_text("/* a local datastar bundle */")
    srv = spawn(example("http_sse_datastar_hello"), env={"PORT": "0", "DATASTAR_JS": str(js)})
    base = f"http://127.0.0.1:{srv.port}"
    page = peers.curl(f"{base}/").decode()
    assert "@get('/hello-world')" in page
    assert 'src="/datastar.js"' in page
    assert peers.curl(f"{base}/datastar.js") == b"/* a local datastar bundle */"
    signals = quote(json.dumps({"delay": 0}))
    raw = peers.curl(f"{base}/hello-world?datastar={signals}", "-N")
    events = events_of(raw)
    patches = [e for e in events if isinstance(e, PatchElements) and e.selector is None]
    assert [p.elements for p in patches][:2] == [
        '<div id="message">H</div>',
        '<div id="message">He</div>',
    ]
    assert patches[-1].elements == '<div id="message">Hello, world!</div>'
    assert len(patches) == len("Hello, world!")
    finished = [e for e in events if isinstance(e, PatchSignals)]
    assert len(finished) == 1
    assert "finished" in finished[0].patch()
    script = events[-1]
    assert isinstance(script, PatchElements)
    assert script.selector == "body"
    assert script.elements is not None
    assert "pyrama said hello" in script.elements
    # invalid signals: the extractor refuses the request
    with httpx.Client(timeout=20) as c:
        assert c.get(f"{base}/hello-world?datastar=%7Bnope").status_code == 400


def test_script_redirects_to_the_cdn_without_a_local_copy(
    spawn: Spawn, example: Callable[[str], list[str]]
) -> None:
    srv = spawn(example("http_sse_datastar_hello"), env={"PORT": "0"})
    with httpx.Client(timeout=20) as c:
        r = c.get(f"http://127.0.0.1:{srv.port}/datastar.js")
    assert r.status_code == 307
    assert r.headers["location"].startswith(
        "https://cdn.jsdelivr.net/gh/starfederation/datastar@1.0"
    )
