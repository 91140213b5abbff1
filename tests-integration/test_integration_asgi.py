"""The ASGI bridge with real peers, both ways.

* A Starlette app served by pyrama's HttpServer (``examples/http_asgi_app.py``) answers
  curl over HTTP/1.1 and h2c: a 1 MiB upload streamed to the app, a streamed response.
* A pyrama service exposed with ``asgi_app`` runs under uvicorn (HTTP/1.1) and hypercorn
  (h2c) and answers httpx: the request body, headers and a streamed response cross over.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from itsupport import Peers, Running, Spawn

from pyrama_testing import free_port

SERVICE = """
import hashlib

from pyrama_core import service_fn
from pyrama_http.asgi import asgi_app
from pyrama_http_types import Body, Request, Response


async def handler(request: Request) -> Response:
    if request.uri.path == "/stream":
        async def gen():
            for i in range(4):
                yield f"piece {i};".encode()
        return Response(200, headers=[("Content-Type", "text/plain")], body=Body.from_iter(gen()))
    data = await request.body.collect()
    return Response.json({
        "method": str(request.method),
        "target": str(request.uri),
        "version": str(request.version),
        "x": request.headers.get("x-test"),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    })


app = asgi_app(service_fn(handler))
"""


@pytest.fixture
def starlette_on_pyrama(spawn: Spawn, example: Callable[[str], list[str]]) -> Running:
    return spawn([*example("http_asgi_app"), "0"])


@pytest.mark.parametrize("version", ["--http1.1", "--http2-prior-knowledge"])
def test_curl_upload_and_stream(
    starlette_on_pyrama: Running, peers: Peers, tmp_path: Path, version: str
) -> None:
    base = f"http://127.0.0.1:{starlette_on_pyrama.port}"
    payload = json.dumps({"blob": os.urandom(512 * 1024).hex()}).encode()
    (tmp_path / "big.json").write_bytes(payload)
    doc = json.loads(
        peers.curl(f"{base}/echo", version, "--data-binary", f"@{tmp_path / 'big.json'}")
    )
    assert doc["bytes"] == len(payload)
    assert doc["got"] == json.loads(payload)
    lines = peers.curl(f"{base}/stream", version, "-N")
    assert lines == b"line 0\nline 1\nline 2\nline 3\nline 4\n"


def _service_module(tmp_path: Path) -> Path:
    (tmp_path / "pyrama_under_asgi.py").write_text(SERVICE)
    return tmp_path


def test_pyrama_service_under_uvicorn_answers_httpx(spawn: Spawn, tmp_path: Path) -> None:
    cwd = _service_module(tmp_path)
    port = free_port()
    spawn(
        [sys.executable, "-m", "uvicorn", "pyrama_under_asgi:app",
         "--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"],
        ready=r"Uvicorn running on",
        cwd=cwd,
    )  # fmt: skip
    body = os.urandom(300_000)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        r = client.post("/up/a%20b?q=1", content=body, headers={"X-Test": "yes"})
        assert r.status_code == 200
        assert r.json() == {
            "method": "POST",
            "target": "/up/a%20b?q=1",
            "version": "HTTP/1.1",
            "x": "yes",
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        with client.stream("GET", "/stream") as s:
            assert s.headers.get("transfer-encoding") == "chunked"
            assert b"".join(s.iter_bytes()) == b"piece 0;piece 1;piece 2;piece 3;"


def test_pyrama_service_under_hypercorn_h2c(spawn: Spawn, tmp_path: Path) -> None:
    cwd = _service_module(tmp_path)
    port = free_port()
    spawn(
        [sys.executable, "-m", "hypercorn", "pyrama_under_asgi:app",
         "--bind", f"127.0.0.1:{port}"],
        ready=r"Running on",
        cwd=cwd,
    )  # fmt: skip
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", http1=False, http2=True, timeout=30
    ) as client:
        r = client.post("/h2", content=b"over h2c")
        assert r.http_version == "HTTP/2"
        doc = r.json()
        assert doc["version"] == "HTTP/2"
        assert doc["size"] == 8
        r = client.get("/stream")
        assert r.content == b"piece 0;piece 1;piece 2;piece 3;"
