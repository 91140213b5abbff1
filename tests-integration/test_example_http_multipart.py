"""examples/http_multipart.py: uploads with curl -F (fields, files, SHA-256), 415, 413."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
from itsupport import Peers, Spawn


def test_curl_uploads(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    srv = spawn(example("http_multipart"), env={"PORT": "0"})
    url = f"http://127.0.0.1:{srv.port}/upload"
    blob = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(blob)
    (tmp_path / "note.txt").write_text("hello\r\n--not a boundary\r\n")
    out = peers.curl(
        url,
        "-F", "title=holiday",
        "-F", f"photo=@{tmp_path / 'big.bin'}",
        "-F", f"note=@{tmp_path / 'note.txt'};type=text/plain",
    )  # fmt: skip
    got = json.loads(out)
    assert got["fields"] == {"title": "holiday"}
    photo, note = got["files"]
    assert photo["filename"] == "big.bin"
    assert photo["size"] == len(blob)
    assert photo["sha256"] == hashlib.sha256(blob).hexdigest()
    assert note["content_type"] == "text/plain"
    assert note["sha256"] == hashlib.sha256(b"hello\r\n--not a boundary\r\n").hexdigest()
    with httpx.Client(timeout=20) as c:
        assert c.post(url, json={}).status_code == 415
        many = {f"f{i}": (None, b"x") for i in range(17)}  # over max_parts=16
        r = c.post(url, files=many)
        assert r.status_code == 413
        assert "more than 16 parts" in r.text
        r = c.post(url, files={"a": ("a.txt", b"abc")})
        assert r.json()["files"][0]["size"] == 3
