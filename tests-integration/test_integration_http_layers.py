"""HTTP layers against real peers: curl --compressed, nginx gzip, nginx as a forwarding proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from itsupport import Poll, Spawn

from pyrama_core import Service, Shutdown, layers, service_fn
from pyrama_http import EasyHttpWebClient, HttpServer
from pyrama_http.layer import (
    CompressionLayer,
    DecompressionLayer,
    FollowRedirectLayer,
    ForwardedLayer,
    RedirectHistory,
)
from pyrama_http_types import Body, Request, Response
from pyrama_http_types.errors import BodyTooLargeError
from pyrama_net import ClientIp, Forwarded
from pyrama_testing import free_port, require_peer

GUARD = 30.0
LINE = b"the quick brown fox jumps over the lazy dog, and streams on\n"


@contextlib.asynccontextmanager
async def serve(svc: Service[Request, Response]) -> AsyncIterator[int]:
    sd = Shutdown(deadline=5.0)
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        HttpServer.auto().listen(
            "127.0.0.1:0", svc, shutdown=sd, on_listening=lambda a: bound.set_result(a.port)
        )
    )
    try:
        yield await asyncio.wait_for(asyncio.shield(bound), GUARD)
    finally:
        sd.trigger("test over")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, GUARD)


async def run(*argv: str) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), GUARD * 2)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def streamed(req: Request) -> Response:
    """About 6 MiB of text in 64 KiB chunks, streamed (no Content-Length)."""

    async def gen() -> AsyncIterator[bytes]:
        chunk = LINE * 1100
        for _ in range(100):
            yield chunk
            await asyncio.sleep(0)

    return Response(200, headers=[("Content-Type", "text/plain")], body=Body.from_iter(gen()))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("version", ["--http1.1", "--http2-prior-knowledge"])
async def test_curl_compressed_decodes_our_streaming_compression(
    encoding: str, version: str
) -> None:
    curl = require_peer("curl")
    svc = CompressionLayer(encodings=[encoding]).layer(service_fn(streamed))
    async with serve(svc) as port:
        code, body, err = await run(
            curl, "-sS", "-v", "--compressed", version, "--max-time", "60",
            "-H", f"Accept-Encoding: {encoding}", f"http://127.0.0.1:{port}/",
        )  # fmt: skip
        assert code == 0, err.decode()
        verbose = err.decode().lower()
        assert f"< content-encoding: {encoding}" in verbose
        assert "< vary: accept-encoding" in verbose
        assert "< content-length" not in verbose
        assert body == LINE * 1100 * 100
        # what went over the wire is much smaller than the body
        code, raw, _ = await run(
            curl, "-sS", version, "--max-time", "60", "-H", f"Accept-Encoding: {encoding}",
            f"http://127.0.0.1:{port}/",
        )  # fmt: skip
        assert code == 0
        assert len(raw) < len(body) // 20


async def test_curl_without_accept_encoding_gets_identity() -> None:
    curl = require_peer("curl")
    async with serve(CompressionLayer().layer(service_fn(streamed))) as port:
        code, body, err = await run(curl, "-sS", "-v", f"http://127.0.0.1:{port}/")
    assert code == 0
    assert "content-encoding" not in err.decode().lower()
    assert body == LINE * 1100 * 100


# -- nginx ------------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/plain;
    gzip on;
    gzip_min_length 20;
    gzip_comp_level 1;
    gzip_types text/plain application/json;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location = /old {{ return 301 /moved/text.txt; }}
        location /moved/ {{ rewrite ^/moved/(.*)$ /$1 redirect; }}
        location /proxy/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
        }}
    }}
}}
"""


def start_nginx(spawn: Spawn, tmp: Path, upstream: int = 9) -> int:
    nginx = require_peer("nginx")
    port = free_port()
    (tmp / "www").mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, upstream=upstream))
    spawn([nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")], ready=None)
    Poll.tcp_listening(port)
    return port


async def test_our_client_decompresses_nginx_gzip(spawn: Spawn, tmp_path: Path) -> None:
    text = (LINE * 20000) + os.urandom(64).hex().encode()
    port = start_nginx(spawn, tmp_path)
    (tmp_path / "www" / "text.txt").write_bytes(text)
    (tmp_path / "www" / "zeros.txt").write_bytes(b"0" * (24 << 20))
    url = f"http://127.0.0.1:{port}"
    async with EasyHttpWebClient() as client:
        raw = await client.serve(
            Request("GET", url + "/text.txt", headers=[("Accept-Encoding", "gzip")])
        )
        assert raw.headers["content-encoding"] == "gzip"
        wire = await raw.body.collect()
        assert len(wire) < len(text) // 10

        svc = DecompressionLayer().layer(client)
        resp = await svc.serve(Request("GET", url + "/text.txt"))
        assert int(resp.status) == 200
        assert "content-encoding" not in resp.headers
        assert await resp.body.collect() == text

        # a 24 MiB body nginx compresses to ~100 KiB stops at our 1 MiB limit
        bounded = DecompressionLayer(max_size=1 << 20).layer(client)
        resp = await bounded.serve(Request("GET", url + "/zeros.txt"))
        with pytest.raises(BodyTooLargeError):
            await resp.body.collect()

        # redirects from nginx, followed, decoded
        follow = layers(FollowRedirectLayer(), DecompressionLayer()).into(client)
        resp = await follow.serve(Request("GET", url + "/old"))
        assert await resp.body.collect() == text
        history = resp.extensions.require(RedirectHistory)
        assert [u.path for u in history.uris] == ["/old", "/moved/text.txt", "/text.txt"]


async def test_forwarded_layer_behind_nginx(spawn: Spawn, tmp_path: Path) -> None:
    curl = require_peer("curl")

    async def report(req: Request) -> Response:
        client = req.extensions.require(ClientIp)
        fwd = req.extensions.require(Forwarded)
        return Response.json(
            {"client": str(client.ip), "proto": fwd.proto, "host": fwd.elements[-1].host}
        )

    async with serve(ForwardedLayer().layer(service_fn(report))) as upstream:
        port = start_nginx(spawn, tmp_path, upstream)
        code, body, err = await run(
            curl, "-sS", "--max-time", "30", "-H", "X-Forwarded-For: 203.0.113.7",
            f"http://127.0.0.1:{port}/proxy/who",
        )  # fmt: skip
    assert code == 0, err
    got = json.loads(body)
    # nginx (127.0.0.1, trusted) appended curl's 127.0.0.1 (trusted too): the client is
    # the first untrusted hop, the address curl claimed
    assert got == {"client": "203.0.113.7", "proto": "http", "host": "127.0.0.1"}


def test_pyrama_send_compressed_against_nginx(
    spawn: Spawn, tmp_path: Path, pyrama_cli: list[str]
) -> None:
    port = start_nginx(spawn, tmp_path)
    text = LINE * 5000
    (tmp_path / "www" / "text.txt").write_bytes(text)
    url = f"http://127.0.0.1:{port}/text.txt"
    out = subprocess.run(
        [*pyrama_cli, "send", "--compressed", "-i", "-v", url],
        capture_output=True,
        timeout=GUARD * 2,
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode()
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert body == text
    assert b"content-encoding: gzip" in head.lower()
    verbose = out.stderr.decode().lower()
    assert "> accept-encoding: " in verbose
    assert "gzip" in verbose.split("> accept-encoding: ", 1)[1].split("\n", 1)[0]
    # without --compressed nothing is asked for and nginx sends identity
    plain = subprocess.run(
        [*pyrama_cli, "send", "-i", url], capture_output=True, timeout=GUARD * 2, check=False
    )
    assert plain.returncode == 0
    assert b"content-encoding" not in plain.stdout.partition(b"\r\n\r\n")[0].lower()
    assert plain.stdout.partition(b"\r\n\r\n")[2] == text
