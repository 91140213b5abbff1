"""Our client against real servers over loopback: hypercorn (h1, h2c, h2 over TLS) and nginx."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from http_support import PYTHON, cert_files, free_tcp_port, trusting, wait_port

from pyrama_http import HttpClient, HttpVersionPolicy
from pyrama_http_types import Version
from pyrama_net import SocketInfo
from pyrama_testing import require_peer

ASGI_APP = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        names = ",".join(k.decode() for k, _ in scope["headers"])
        text = f"{scope['http_version']} {scope['method']} {scope['path']} {len(body)} {names}"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": text.encode()})
    """
)


def write_dir(prefix: str, files: dict[str, str], d: str | None = None) -> str:
    """A new temporary directory (or *d*) holding *files*."""
    if d is None:
        d = tempfile.mkdtemp(prefix=prefix)
        os.chmod(d, 0o755)
    for name, text in files.items():
        Path(d, name).write_text(text)
    return d


@contextlib.asynccontextmanager
async def hypercorn(tls: bool) -> AsyncIterator[int]:
    d = write_dir("pyrama-hypercorn-", {"peerapp.py": ASGI_APP})
    port = free_tcp_port()
    argv = [PYTHON, "-m", "hypercorn", "peerapp:app", "--bind", f"127.0.0.1:{port}"]
    if tls:
        cert, key = cert_files()
        argv += ["--certfile", cert, "--keyfile", key]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=d,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_port(port, proc)
        yield port
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (HttpVersionPolicy.AUTO, "1.1"),
        (HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE, "2"),
    ],
)
async def test_hypercorn_plain(policy: HttpVersionPolicy, expected: str) -> None:
    async with hypercorn(tls=False) as port, HttpClient(version_policy=policy) as c:
        rs = await asyncio.gather(
            *(c.post(f"http://127.0.0.1:{port}/p{i}").body(b"x" * i).send() for i in range(5))
        )
        texts = [await r.text() for r in rs]
        for i, text in enumerate(texts):
            version, method, path, length, _ = text.split(" ")
            assert (version, method, path, length) == (expected, "POST", f"/p{i}", str(i))
        r = await c.get(f"http://127.0.0.1:{port}/ua")
        names = (await r.text()).split(" ")[4].split(",")
        assert "user-agent" in names
        if expected == "2":
            assert len({r.extensions.get(SocketInfo).local for r in rs}) == 1  # type: ignore[union-attr]


async def test_hypercorn_tls_alpn_h2_and_http1() -> None:
    async with hypercorn(tls=True) as port:
        async with HttpClient(tls=trusting()) as c:
            r = await c.get(f"https://localhost:{port}/tls")
            assert r.version is Version.HTTP_2
            assert (await r.text()).startswith("2 GET /tls 0")
            rs = await asyncio.gather(
                *(c.get(f"https://localhost:{port}/{i}").send() for i in range(20))
            )
            assert [(await x.text()).split(" ")[2] for x in rs] == [f"/{i}" for i in range(20)]
            assert c.service.stats().h2_connections == 1  # type: ignore[attr-defined]
        async with HttpClient(tls=trusting(), version_policy=HttpVersionPolicy.HTTP1_ONLY) as c:
            r = await c.get(f"https://localhost:{port}/h1")
            assert r.version is Version.HTTP_11
            assert (await r.text()).startswith("1.1 GET /h1 0")


NGINX_CONF = """
worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            default_type text/plain;
            return 200 "nginx $server_protocol $request_method $uri\\n";
        }}
    }}
}}
"""


@contextlib.asynccontextmanager
async def nginx() -> AsyncIterator[int]:
    binary = require_peer("nginx")
    cert, key = cert_files()
    port = free_tcp_port()
    d = write_dir("pyrama-nginx-", {})
    text = NGINX_CONF.format(d=d, port=port, cert=cert, key=key)
    if os.geteuid() == 0:
        text = "user root;\n" + text  # workers must read the test's key file
    write_dir("", {"nginx.conf": text}, d)
    conf = Path(d, "nginx.conf")
    proc = await asyncio.create_subprocess_exec(
        binary, "-p", d, "-c", str(conf), stdout=asyncio.subprocess.DEVNULL
    )
    try:
        await wait_port(port, proc)
        yield port
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@pytest.mark.peer("nginx")
async def test_nginx_tls_h2_and_http1() -> None:
    async with nginx() as port:
        async with HttpClient(tls=trusting()) as c:
            rs = await asyncio.gather(
                *(c.get(f"https://localhost:{port}/n{i}").send() for i in range(10))
            )
            for i, r in enumerate(rs):
                assert r.version is Version.HTTP_2
                assert await r.text() == f"nginx HTTP/2.0 GET /n{i}\n"
            assert c.service.stats().h2_connections == 1  # type: ignore[attr-defined]
        async with HttpClient(tls=trusting(), version_policy=HttpVersionPolicy.HTTP1_ONLY) as c:
            for _ in range(3):
                r = await c.head(f"https://localhost:{port}/h")
                assert r.version is Version.HTTP_11
                assert await r.bytes() == b""
            r = await c.get(f"https://localhost:{port}/h")
            assert await r.text() == "nginx HTTP/1.1 GET /h\n"
            assert c.service.stats().http1.open == 1  # type: ignore[attr-defined]
