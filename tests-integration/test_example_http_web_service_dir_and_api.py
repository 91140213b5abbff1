"""examples/http_web_service_dir_and_api.py: ServeDir under /static plus a JSON API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from itsupport import Peers, Spawn


def test_dir_and_api(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<h1>site</h1>\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.txt").write_bytes(b"0123456789")
    srv = spawn(example("http_web_service_dir_and_api"), env={"PORT": "0", "DIR": str(tmp_path)})
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, timeout=20) as c:
        page = c.get("/static/index.html")
        assert page.status_code == 200
        assert page.text == "<h1>site</h1>\n"
        assert page.headers["content-type"].startswith("text/html")
        etag = page.headers["etag"]
        assert c.get("/static/index.html", headers={"If-None-Match": etag}).status_code == 304
        part = c.get("/static/sub/data.txt", headers={"Range": "bytes=2-4"})
        assert part.status_code == 206
        assert part.content == b"234"
        assert c.get("/static/missing.txt").status_code == 404
        assert isinstance(c.get("/api/time").json()["unix"], float)
        assert c.post("/api/echo", json=[1, {"a": None}]).json() == {"echo": [1, {"a": None}]}
        assert c.delete("/health").text == "ok\n"
        assert c.get("/nothing").status_code == 404
    assert peers.curl(f"{base}/static/sub/data.txt") == b"0123456789"
