"""examples/http_form.py: the form page, an urlencoded POST (curl -d), 415/422, redirect."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn


def test_form(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_form"), env={"PORT": "0"})
    base = f"http://127.0.0.1:{srv.port}"
    page = httpx.get(base + "/", timeout=20)
    assert '<form method="post" action="/submit">' in page.text
    out = peers.curl(f"{base}/submit", "-d", "name=Gl%C3%A9n&age=42&newsletter=on")
    assert out.decode() == "<!doctype html><p>Thanks, Glén (42). Newsletter: yes.</p>"
    with httpx.Client(base_url=base, timeout=20) as c:
        r = c.post("/submit", data={"name": "<b>x</b>", "age": "7"})
        assert "Thanks, &lt;b&gt;x&lt;/b&gt; (7). Newsletter: no." in r.text
        bad = c.post("/submit", data={"name": "x", "age": "old"})
        assert bad.status_code == 422
        assert bad.json()["field"] == "age"
        assert c.post("/submit", json={"name": "x", "age": 1}).status_code == 415
        back = c.post("/submit?back=1", data={"name": "x", "age": "1"})
        assert back.status_code == 303
        assert back.headers["location"] == "/"
