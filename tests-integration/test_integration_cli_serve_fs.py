"""`pyrama serve fs` against curl and httpx: ranges, validators, precompression, listings."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from itsupport import Peers, Pki, Running, Spawn, make_pki

from pyrama_testing import require_peer

BIG = os.urandom(3 << 20)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "big.bin").write_bytes(BIG)
    (root / "hello.txt").write_text("hello from pyrama\n")
    (root / "page.html").write_text("<h1>page</h1>\n" * 50)
    (root / "page.html.gz").write_bytes(gzip.compress(b"<h1>page</h1>\n" * 50))
    (root / "docs").mkdir()
    (root / "docs" / "a <b>.txt").write_text("odd")
    (root / "app").mkdir()
    (root / "app" / "index.html").write_text("<p>app</p>")
    (tmp_path / "secret.txt").write_text("top secret")
    return root


@pytest.fixture
def fs(spawn: Spawn, pyrama_cli: list[str], site: Path) -> Running:
    return spawn([*pyrama_cli, "serve", "fs", str(site), "--listing", "--bind", "127.0.0.1:0"])


def curl(peers: Peers, *argv: str) -> subprocess.CompletedProcess[bytes]:
    out = peers.run([require_peer("curl"), "-sS", "--max-time", "30", *argv], timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out


def head_and_body(out: bytes) -> tuple[str, bytes]:
    """Split curl -i/-D output; header lines come back joined with LF (no CR)."""
    head, _, body = out.partition(b"\r\n\r\n")
    return head.decode("latin-1").replace("\r\n", "\n"), body


def test_files_and_streaming(fs: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{fs.port}"
    assert peers.curl(f"{url}/hello.txt") == b"hello from pyrama\n"
    body = peers.curl(f"{url}/big.bin")
    assert hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()
    body = peers.curl(f"{url}/big.bin", "--http2-prior-knowledge")
    assert body == BIG
    head, body = head_and_body(curl(peers, "-I", f"{url}/big.bin").stdout)
    assert re.search(rf"(?im)^content-length: {len(BIG)}$", head)
    assert re.search(r"(?im)^content-type: application/octet-stream$", head)
    assert body == b""


def test_ranges_with_curl(fs: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{fs.port}/big.bin"
    assert peers.curl(url, "-r", "0-99") == BIG[:100]
    assert peers.curl(url, "-r", "-10") == BIG[-10:]
    assert peers.curl(url, "-r", "1000-") == BIG[1000:]
    head, body = head_and_body(curl(peers, "-i", "-r", "0-4,10-14", url).stdout)
    assert head.startswith("HTTP/1.1 206")
    m = re.search(r"(?im)^content-type: multipart/byteranges; boundary=(\w+)$", head)
    assert m is not None
    assert BIG[:5] in body
    assert BIG[10:15] in body
    assert body.endswith(f"--{m.group(1)}--\r\n".encode())
    out = peers.run(
        [require_peer("curl"), "-s", "-o", "/dev/null", "-w", "%{http_code}", "-r",
         f"{len(BIG)}-", url]
    )  # fmt: skip
    assert out.stdout == b"416"


def test_conditional_requests(fs: Running, peers: Peers, site: Path) -> None:
    url = f"http://127.0.0.1:{fs.port}/hello.txt"
    head, _ = head_and_body(curl(peers, "-i", url).stdout)
    etag = re.search(r"(?im)^etag: (.+)$", head)
    assert etag is not None
    code = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(peers, *code, "-H", f"If-None-Match: {etag.group(1)}", url).stdout == b"304"
    # curl -z FILE: If-Modified-Since from the file's own time -> not modified
    assert curl(peers, *code, "-z", str(site / "hello.txt"), url).stdout == b"304"
    assert curl(peers, *code, "-z", "1 Jan 2001", url).stdout == b"200"
    assert (
        curl(peers, *code, "-H", "If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT", url).stdout
        == b"412"
    )
    assert curl(peers, *code, "-H", f"If-Match: {etag.group(1)}", url).stdout == b"412"  # weak


def test_precompressed_with_curl_compressed(fs: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{fs.port}/page.html"
    out = curl(peers, "--compressed", "-D", "-", url).stdout
    head, body = head_and_body(out)
    assert re.search(r"(?im)^content-encoding: gzip$", head)
    assert re.search(r"(?im)^vary: Accept-Encoding$", head)
    assert body == b"<h1>page</h1>\n" * 50
    plain = curl(peers, "-D", "-", url).stdout
    head, body = head_and_body(plain)
    assert "content-encoding" not in head.lower()
    assert body == b"<h1>page</h1>\n" * 50


def test_directories_and_traversal(fs: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{fs.port}"
    listing = peers.curl(f"{url}/docs/").decode()
    assert 'href="a%20%3Cb%3E.txt">a &lt;b&gt;.txt</a>' in listing
    assert peers.curl(f"{url}/docs/a%20%3Cb%3E.txt") == b"odd"
    assert peers.curl(f"{url}/app", "-L") == b"<p>app</p>"
    code = ["-o", "/dev/null", "-w", "%{http_code}", "--path-as-is"]
    for path in ("/../secret.txt", "/docs/../../secret.txt", "/%2e%2e/secret.txt",
                 "/..%2fsecret.txt", "/docs/..%5c..%5csecret.txt", "/hello.txt%00"):  # fmt: skip
        assert curl(peers, *code, f"{url}{path}").stdout == b"404", path
    assert curl(peers, *code, "-X", "POST", f"{url}/hello.txt").stdout == b"405"


def test_httpx_h1_and_h2(fs: Running) -> None:
    url = f"http://127.0.0.1:{fs.port}"
    with httpx.Client(timeout=30) as c:
        r = c.get(f"{url}/big.bin", headers={"Range": "bytes=5-9"})
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes 5-9/{len(BIG)}"
        assert r.content == BIG[5:10]
        r = c.get(f"{url}/app")
        assert r.status_code == 307
        assert r.headers["location"] == "/app/"
    with httpx.Client(http1=False, http2=True, timeout=30) as c:
        r = c.get(f"{url}/hello.txt")
        assert r.http_version == "HTTP/2"
        assert r.text == "hello from pyrama\n"
        again = c.get(f"{url}/hello.txt", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304


def test_single_file_over_https(
    spawn: Spawn, pyrama_cli: list[str], site: Path, peers: Peers, tmp_path: Path
) -> None:
    pki: Pki = make_pki(tmp_path / "pki")
    srv = spawn(
        [*pyrama_cli, "serve", "fs", str(site / "hello.txt"), "--secure", "--bind",
         "127.0.0.1:0", *pki.server_flags]
    )  # fmt: skip
    url = f"https://localhost:{srv.port}/whatever"
    trust = ["--cacert", str(pki.ca), "--resolve", f"localhost:{srv.port}:127.0.0.1"]
    assert peers.curl(url, *trust) == b"hello from pyrama\n"
    assert peers.curl(url, *trust, "-r", "6-9") == b"from"


def test_missing_path_fails_to_start(spawn: Spawn, pyrama_cli: list[str], tmp_path: Path) -> None:
    proc = spawn([*pyrama_cli, "serve", "fs", str(tmp_path / "nope"), "--bind", "127.0.0.1:0"],
                 ready=None)  # fmt: skip
    assert proc.wait_exit() == 1
    assert "no such directory or file" in proc.output()
