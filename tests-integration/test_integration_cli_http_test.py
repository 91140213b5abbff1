"""`pyrama serve http-test` driven by curl and httpx: every endpoint, HTTP/1.1 and h2."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from itsupport import Peers, Running, Spawn

from pyrama_testing import require_peer

PATTERN = bytes(range(256))


@pytest.fixture
def srv(spawn: Spawn, pyrama_cli: list[str]) -> Running:
    return spawn(
        [*pyrama_cli, "serve", "http-test", "--bind", "127.0.0.1:0", "--max-body-bytes", "8M"]
    )


def curl(peers: Peers, *argv: str) -> subprocess.CompletedProcess[bytes]:
    out = peers.run([require_peer("curl"), "-sS", "--max-time", "30", *argv], timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out


def test_bytes(srv: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{srv.port}"
    body = peers.curl(f"{url}/bytes/1000000")
    assert len(body) == 1_000_000
    assert body == (PATTERN * (1_000_000 // 256 + 1))[:1_000_000]
    assert peers.curl(f"{url}/bytes/0") == b""
    assert len(peers.curl(f"{url}/bytes/70000", "--http2-prior-knowledge")) == 70000
    code = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(peers, *code, f"{url}/bytes/abc").stdout == b"400"
    assert curl(peers, *code, f"{url}/bytes/{(1 << 30) + 1}").stdout == b"400"  # the limit
    assert curl(peers, *code, f"{url}/nope").stdout == b"404"
    assert b"/response-compression" in peers.curl(f"{url}/")


def test_method(srv: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{srv.port}/method"
    assert peers.curl(url) == b"GET\n"
    assert peers.curl(url, "-X", "PUT") == b"PUT\n"
    assert peers.curl(url, "-X", "PATCH", "--http2-prior-knowledge") == b"PATCH\n"


def test_response_compression(srv: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{srv.port}/response-compression"
    plain = peers.curl(url)
    assert plain.startswith(b"line 0: pyrama compresses this text\n")
    out = curl(peers, "--compressed", "-D", "-", url).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert re.search(rb"(?im)^content-encoding: (gzip|br|zstd|deflate)\r?$", head)
    assert body == plain
    with httpx.Client(timeout=30) as c:
        for coding in ("gzip", "br", "deflate"):
            r = c.get(url, headers={"Accept-Encoding": coding})
            assert r.headers["content-encoding"] == coding
            assert r.headers["vary"] == "Accept-Encoding"
            assert r.content == plain  # httpx decodes
        r = c.get(url, headers={"Accept-Encoding": "gzip;q=0, br"})
        assert r.headers["content-encoding"] == "br"
        r = c.get(url, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in r.headers
        assert r.content == plain
        with c.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as r:
            compressed = b"".join(r.iter_raw())
    assert gzip.decompress(compressed) == plain


def test_response_stream_and_sse(srv: Running, peers: Peers) -> None:
    url = f"http://127.0.0.1:{srv.port}"
    out = curl(peers, "-D", "-", f"{url}/response-stream?n=5").stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert re.search(rb"(?im)^transfer-encoding: chunked\r?$", head)
    assert body == b"".join(b"chunk %d\n" % i for i in range(5))
    sse = peers.curl(f"{url}/sse?n=3", "-N")
    assert sse == b"".join(b'event: count\nid: %d\ndata: {"n":%d}\n\n' % (i, i) for i in range(3))
    with httpx.Client(http1=False, http2=True, timeout=30) as c:
        with c.stream("GET", f"{url}/sse?n=4") as r:
            assert r.headers["content-type"] == "text/event-stream"
            lines = [line for line in r.iter_lines() if line.startswith("data:")]
        assert [json.loads(line[5:]) for line in lines] == [{"n": i} for i in range(4)]
    code = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(peers, *code, f"{url}/sse?n=10001").stdout == b"400"  # the limit


def test_multipart(srv: Running) -> None:
    with httpx.Client(timeout=30) as c:
        r = c.get(f"http://127.0.0.1:{srv.port}/multipart")
    m = re.fullmatch(r'multipart/mixed; boundary="([^"]+)"', r.headers["content-type"])
    assert m is not None
    parts = r.content.split(b"--" + m.group(1).encode())
    assert parts[0] == b""
    assert parts[-1] == b"--\r\n"
    assert b"Content-Type: text/plain; charset=utf-8\r\n\r\nfirst part\n" in parts[1]
    assert b'{"part":2}' in parts[2]
    assert bytes(range(16)) in parts[3]


def test_sink(srv: Running, peers: Peers, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{srv.port}/sink"
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(5 << 20))
    out = peers.curl(url, "--data-binary", f"@{blob}")
    assert json.loads(out) == {"bytes": 5 << 20}
    out = peers.curl(url, "--data-binary", f"@{blob}", "--http2-prior-knowledge")
    assert json.loads(out) == {"bytes": 5 << 20}
    with httpx.Client(timeout=30) as c:
        r = c.post(url, content=(b"x" * 1000 for _ in range(10)))  # chunked upload
        assert r.json() == {"bytes": 10_000}
    big = tmp_path / "big"
    big.write_bytes(b"\0" * (9 << 20))
    code = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(peers, *code, "--data-binary", f"@{big}", url).stdout == b"413"
