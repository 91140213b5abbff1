"""Our HTTP client (`pyrama send` and the Python API) against real servers over loopback.

* nginx (temporary config): HTTP/1.1 on a plain port, HTTP/2 over TLS (`listen ... ssl http2`,
  TLSv1.2 + TLSv1.3), h2c with prior knowledge (`listen ... http2` without TLS);
* hypercorn running a tiny ASGI echo app: HTTP/1.1 and h2c on a plain port, h2 over TLS.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from itsupport import PEER_TIMEOUT, Peers, Pki, Poll, Spawn, make_pki

from pyrama.http import EasyHttpWebClient, HttpClient, HttpVersionPolicy
from pyrama_http_types import Version
from pyrama_testing import free_port, require_peer

NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{h1};
        listen 127.0.0.1:{h2} ssl http2;
        listen 127.0.0.1:{h2c} http2;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {www};
        location = / {{ return 200 "{answer}"; }}
        location = /missing {{ return 404 "nope\\n"; }}
        location = /moved {{ return 302 /; }}
        location /files/ {{ }}
    }}
}}
"""
NGINX_ANSWER = r"proto=$server_protocol method=$request_method x=$http_x_mixed host=$host\n"

ASGI_APP = '''\
"""A tiny ASGI app: answers JSON describing the request (hypercorn interop tests)."""

import json


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    doc = {
        "method": scope["method"],
        "path": scope["path"],
        "query": scope["query_string"].decode(),
        "http_version": scope["http_version"],
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "body": body.decode("utf-8", "replace"),
    }
    data = json.dumps(doc).encode()
    status = 404 if scope["path"] == "/missing" else 200
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"x-served-by", b"hypercorn")],
    })
    await send({"type": "http.response.body", "body": data})
'''


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class Nginx:
    h1: int
    h2: int
    h2c: int
    big: bytes


@pytest.fixture
def nginx(spawn: Spawn, pki: Pki, tmp_path: Path) -> Nginx:
    binary = require_peer("nginx")
    www = tmp_path / "www"
    (www / "files").mkdir(parents=True)
    big = os.urandom(3 << 20)
    (www / "files" / "big.bin").write_bytes(big)
    ports = Nginx(free_port(), free_port(), free_port(), big)
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            tmp=tmp_path, h1=ports.h1, h2=ports.h2, h2c=ports.h2c,
            cert=pki.cert, key=pki.key, www=www, answer=NGINX_ANSWER,
        )
    )  # fmt: skip
    spawn([binary, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
          ready=None)  # fmt: skip
    for port in (ports.h1, ports.h2, ports.h2c):
        Poll.tcp_listening(port)
    return ports


@dataclass
class Hypercorn:
    plain: int
    tls: int


@pytest.fixture
def hypercorn(spawn: Spawn, pki: Pki, tmp_path: Path) -> Hypercorn:
    app_dir = tmp_path / "asgi"
    app_dir.mkdir()
    (app_dir / "echo_app.py").write_text(ASGI_APP)
    ports = Hypercorn(free_port(), free_port())
    spawn(
        [sys.executable, "-m", "hypercorn", "echo_app:app",
         "--certfile", str(pki.cert), "--keyfile", str(pki.key),
         "--bind", f"127.0.0.1:{ports.tls}", "--insecure-bind", f"127.0.0.1:{ports.plain}"],
        cwd=app_dir,
        ready=r"Running on",
    )  # fmt: skip
    Poll.tcp_listening(ports.plain)
    Poll.tcp_listening(ports.tls)
    return ports


def send(peers: Peers, cli: list[str], *args: str) -> tuple[int, bytes, str]:
    out = peers.run([*cli, "send", *args], timeout=PEER_TIMEOUT * 2)
    return out.returncode, out.stdout, out.stderr.decode(errors="replace")


# -- pyrama send against nginx ----------------------------------------------------------------


def test_send_to_nginx_http11(nginx: Nginx, pyrama_cli: list[str], peers: Peers) -> None:
    code, out, err = send(peers, pyrama_cli, "-i", f"http://127.0.0.1:{nginx.h1}/",
                          "-H", "X-MiXeD: yes")  # fmt: skip
    assert code == 0, err
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Server: nginx" in head
    assert body == b"proto=HTTP/1.1 method=GET x=yes host=127.0.0.1\n"


def test_send_to_nginx_h2_over_tls(
    nginx: Nginx, pyrama_cli: list[str], peers: Peers, pki: Pki
) -> None:
    code, out, err = send(peers, pyrama_cli, "-v", "--http2", "--cacert", str(pki.ca),
                          f"https://localhost:{nginx.h2}/", "-H", "X-MiXeD: tls")  # fmt: skip
    assert code == 0, err
    assert out == b"proto=HTTP/2.0 method=GET x=tls host=localhost\n"
    assert "ALPN: h2" in err
    assert "< HTTP/2 200" in err
    # and HTTP/1.1 over the same TLS port when asked
    code, out, err = send(peers, pyrama_cli, "--http1.1", "--cacert", str(pki.ca),
                          f"https://localhost:{nginx.h2}/")  # fmt: skip
    assert (code, out) == (0, b"proto=HTTP/1.1 method=GET x= host=localhost\n"), err


def test_send_to_nginx_h2c_prior_knowledge(
    nginx: Nginx, pyrama_cli: list[str], peers: Peers
) -> None:
    code, out, err = send(peers, pyrama_cli, "--http2-prior-knowledge", "-X", "HEAD", "-i",
                          f"http://127.0.0.1:{nginx.h2c}/")  # fmt: skip
    assert code == 0, err
    assert out.startswith(b"HTTP/2 200\r\n")
    code, out, err = send(peers, pyrama_cli, "--http2-prior-knowledge",
                          f"http://127.0.0.1:{nginx.h2c}/")  # fmt: skip
    assert (code, out) == (0, b"proto=HTTP/2.0 method=GET x= host=127.0.0.1\n"), err


def test_send_fail_redirect_and_file_from_nginx(
    nginx: Nginx, pyrama_cli: list[str], peers: Peers, pki: Pki, tmp_path: Path
) -> None:
    code, out, err = send(peers, pyrama_cli, "--fail", f"http://127.0.0.1:{nginx.h1}/missing")
    assert (code, out) == (22, b"")
    assert "404" in err
    code, out, err = send(peers, pyrama_cli, "-L", f"http://127.0.0.1:{nginx.h1}/moved")
    assert (code, out) == (0, b"proto=HTTP/1.1 method=GET x= host=127.0.0.1\n"), err
    target = tmp_path / "big.out"
    code, _, err = send(peers, pyrama_cli, "--cacert", str(pki.ca), "-o", str(target),
                        f"https://localhost:{nginx.h2}/files/big.bin")  # fmt: skip
    assert code == 0, err
    assert target.read_bytes() == nginx.big


def test_send_to_nginx_without_trust_exits_60(
    nginx: Nginx, pyrama_cli: list[str], peers: Peers
) -> None:
    code, out, err = send(peers, pyrama_cli, f"https://localhost:{nginx.h2}/")
    assert (code, out) == (60, b"")
    assert "(60)" in err
    code, out, err = send(peers, pyrama_cli, "-k", f"https://localhost:{nginx.h2}/")
    assert code == 0, err


# -- the Python API against nginx -------------------------------------------------------------


async def test_api_against_nginx_all_three_ports(nginx: Nginx, pki: Pki) -> None:
    async with HttpClient(ca_file=str(pki.ca), timeout=PEER_TIMEOUT) as client:
        r1 = await client.get(f"http://127.0.0.1:{nginx.h1}/").header("X-MiXeD", "api").send()
        assert (r1.version, r1.status) == (Version.HTTP_11, 200)
        assert await r1.text() == "proto=HTTP/1.1 method=GET x=api host=127.0.0.1\n"
        r2 = await client.get(f"https://localhost:{nginx.h2}/").send()
        assert r2.version is Version.HTTP_2
        assert await r2.text() == "proto=HTTP/2.0 method=GET x= host=localhost\n"
        big = await client.get(f"https://localhost:{nginx.h2}/files/big.bin").send()
        assert await big.bytes() == nginx.big
        missing = await client.get(f"http://127.0.0.1:{nginx.h1}/missing").send()
        assert missing.status == 404
        assert await missing.text() == "nope\n"
    async with HttpClient(
        version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE, timeout=PEER_TIMEOUT
    ) as h2c:
        r3 = await h2c.get(f"http://127.0.0.1:{nginx.h2c}/").send()
        assert r3.version is Version.HTTP_2
        assert await r3.text() == "proto=HTTP/2.0 method=GET x= host=127.0.0.1\n"


async def test_api_concurrent_h2_requests_share_one_nginx_connection(
    nginx: Nginx, pki: Pki
) -> None:
    import asyncio

    easy = EasyHttpWebClient(ca_file=str(pki.ca))
    async with HttpClient(easy, timeout=PEER_TIMEOUT) as client:

        async def one(i: int) -> str:
            resp = await client.get(f"https://localhost:{nginx.h2}/").header("X-MiXeD", str(i))
            return await resp.text()

        texts = await asyncio.gather(*(one(i) for i in range(20)))
        assert texts == [f"proto=HTTP/2.0 method=GET x={i} host=localhost\n" for i in range(20)]
        assert easy.stats().h2_connections == 1


# -- hypercorn --------------------------------------------------------------------------------


def _doc(out: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_send_to_hypercorn_h1_h2c_and_tls(
    hypercorn: Hypercorn, pyrama_cli: list[str], peers: Peers, pki: Pki
) -> None:
    plain = f"http://127.0.0.1:{hypercorn.plain}/echo?x=1"
    code, out, err = send(peers, pyrama_cli, plain, "-H", "X-A: 1", "-H", "x-b: 2",
                          "--json", '{"k": "v"}')  # fmt: skip
    assert code == 0, err
    doc = _doc(out)
    assert (doc["http_version"], doc["method"], doc["path"], doc["query"]) == (
        "1.1", "POST", "/echo", "x=1",
    )  # fmt: skip
    assert json.loads(doc["body"]) == {"k": "v"}
    names = [n for n, _ in doc["headers"]]
    assert names.index("x-a") < names.index("x-b") < names.index("content-type")

    code, out, err = send(peers, pyrama_cli, "--http2-prior-knowledge", plain)
    assert code == 0, err
    assert _doc(out)["http_version"] == "2"

    code, out, err = send(peers, pyrama_cli, "-i", "--cacert", str(pki.ca),
                          f"https://localhost:{hypercorn.tls}/tls", "-d", "x=1")  # fmt: skip
    assert code == 0, err
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 200\r\n")
    assert b"x-served-by: hypercorn" in head
    doc = _doc(body)
    assert (doc["http_version"], doc["body"]) == ("2", "x=1")

    code, out, _ = send(peers, pyrama_cli, "-f", f"http://127.0.0.1:{hypercorn.plain}/missing")
    assert (code, out) == (22, b"")


async def test_api_against_hypercorn(hypercorn: Hypercorn, pki: Pki) -> None:
    async with HttpClient(ca_file=str(pki.ca), timeout=PEER_TIMEOUT) as client:
        resp = await (
            client.put(f"https://localhost:{hypercorn.tls}/api")
            .header("X-First", "1")
            .header("X-Second", "2")
            .json({"n": 1})
            .send()
        )
        assert resp.version is Version.HTTP_2
        assert resp.headers.get("x-served-by") == "hypercorn"
        doc = await resp.json()
        assert (doc["method"], doc["http_version"]) == ("PUT", "2")
        names = [n for n, _ in doc["headers"]]
        assert names.index("x-first") < names.index("x-second")
        for i in range(3):  # keep-alive over plain HTTP/1.1
            r = await client.post(f"http://127.0.0.1:{hypercorn.plain}/{i}").body(b"z" * i).send()
            got = await r.json()
            assert (got["path"], got["body"], got["http_version"]) == (f"/{i}", "z" * i, "1.1")
