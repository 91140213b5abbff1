"""examples/http_service_fs.py: ServeDir with listings, ranges, validators, precompression."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import httpx
from itsupport import Peers, Spawn

from pyrama_testing import require_peer


def test_directory_over_http(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("0123456789abcdef")
    (tmp_path / "app.js").write_text("console.log('x');\n" * 100)
    (tmp_path / "app.js.gz").write_bytes(gzip.compress(b"console.log('x');\n" * 100))
    (tmp_path / "sub").mkdir()
    srv = spawn(example("http_service_fs"), env={"PORT": "0", "DIR": str(tmp_path)})
    url = f"http://127.0.0.1:{srv.port}"
    listing = peers.curl(f"{url}/").decode()
    assert 'href="notes.txt"' in listing
    assert 'href="sub/"' in listing
    assert peers.curl(f"{url}/notes.txt", "-r", "10-15") == b"abcdef"
    out = peers.run(
        [require_peer("curl"), "-s", "--compressed", "-D", "-", f"{url}/app.js"]
    ).stdout  # fmt: skip
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in head
    assert body == b"console.log('x');\n" * 100
    with httpx.Client(base_url=url, timeout=20) as c:
        first = c.get("/notes.txt")
        assert first.headers["content-type"] == "text/plain; charset=utf-8"
        assert (
            c.get("/notes.txt", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        )
        assert c.get("/sub").status_code == 307
        assert c.get("/../etc/passwd").status_code == 404


def test_default_directory_is_the_examples(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    srv = spawn(example("http_service_fs"), env={"PORT": "0"})
    src = peers.curl(f"http://127.0.0.1:{srv.port}/http_service_fs.py", "-r", "0-2")
    assert src == b'"""'
