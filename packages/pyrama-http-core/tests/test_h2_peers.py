"""Our HTTP/2 drivers against real peers: curl, nghttp, h2load, httpx (TLS ALPN h2), hypercorn."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from h2_support import loopback_server, tcp_client_stream

from pyrama_core import service_fn
from pyrama_http_core import H2ClientConnection, serve_h2
from pyrama_http_types import Body, Request, Response
from pyrama_net import SocketStream, SocketStreamProtocol
from pyrama_testing import free_port, require_module, require_peer


async def app(req: Request) -> Response:
    """Echo the body with its SHA-256; /big answers 3 MiB."""
    if req.uri.path == "/big":
        data = bytes(range(256)) * (3 * 4096)
        return Response.binary(data, headers={"x-sha": hashlib.sha256(data).hexdigest()})
    data = await req.body.collect()
    return Response.text(
        f"{req.method} {req.uri.path} {len(data)} {hashlib.sha256(data).hexdigest()}"
    )


async def run(*argv: str, timeout: float = 60) -> tuple[int, bytes, bytes]:  # noqa: ASYNC109
    """Run a peer; return (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out, err


@pytest.mark.peer("curl")
async def test_curl_prior_knowledge() -> None:
    curl = require_peer("curl")
    async with loopback_server(app) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        code, out, err = await run(
            curl, "-sS", "--http2-prior-knowledge", "-w", "\n%{http_version}", f"{base}/hi"
        )
        assert code == 0, err
        body, version = out.decode().rsplit("\n", 1)
        assert version == "2"
        assert body == f"GET /hi 0 {hashlib.sha256(b'').hexdigest()}"
        payload = os.urandom(2 << 20)
        code, out, err = await run(
            curl,
            "-sS",
            "--http2-prior-knowledge",
            "--data-binary",
            f"@{_write_tmp(payload)}",
            f"{base}/up",
        )
        assert code == 0, err
        assert out.decode() == f"POST /up {len(payload)} {hashlib.sha256(payload).hexdigest()}"
        code, out, err = await run(
            curl, "-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", f"{base}/big"
        )
        assert code == 0, err
        assert b"HTTP/2 200" in out
        assert b"content-length: 3145728" in out


_TMP: list[Path] = []


def _write_tmp(data: bytes) -> str:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"pyrama-h2-{os.getpid()}-{len(_TMP)}.bin"
    path.write_bytes(data)
    _TMP.append(path)
    return str(path)


@pytest.fixture(autouse=True)
def _cleanup_tmp() -> object:
    yield None
    while _TMP:
        with contextlib.suppress(OSError):
            _TMP.pop().unlink()


@pytest.mark.peer("nghttp")
async def test_nghttp_verbose_prior_knowledge() -> None:
    nghttp = require_peer("nghttp")
    async with loopback_server(app) as srv:
        code, out, err = await run(nghttp, "-nv", f"http://127.0.0.1:{srv.port}/x")
        text = out.decode()
        assert code == 0, err
        assert "recv SETTINGS frame" in text
        assert "(niv=3)" in text  # our three SETTINGS
        assert ":status: 200" in text
        assert "recv GOAWAY" not in text


@pytest.mark.peer("h2load")
async def test_h2load_all_succeed() -> None:
    h2load = require_peer("h2load")
    async with loopback_server(app) as srv:
        code, out, err = await run(
            h2load,
            "-n",
            "1000",
            "-c",
            "4",
            "-m",
            "10",
            f"http://127.0.0.1:{srv.port}/",
            timeout=120,
        )
        text = out.decode()
        assert code == 0, err
        assert "1000 succeeded, 0 failed, 0 errored" in text, text
        assert srv.connections == 4


def _self_signed(tmp: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp / "cert.pem"
    key_path = tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@contextlib.asynccontextmanager
async def tls_h2_server(tmp: Path) -> AsyncIterator[tuple[int, str]]:
    """serve_h2 behind asyncio's TLS (ALPN h2) on 127.0.0.1; yields (port, CA file)."""
    cert, key = _self_signed(tmp)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    alpns: list[str | None] = []

    def on_connect(stream: SocketStream) -> None:
        sslobj = stream.get_extra_info("ssl_object")
        alpns.append(sslobj.selected_alpn_protocol() if sslobj else None)
        t = loop.create_task(serve_h2(stream, service_fn(app)))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    server = await loop.create_server(
        lambda: SocketStreamProtocol(loop, on_connect=on_connect), "127.0.0.1", 0, ssl=ctx
    )
    try:
        yield server.sockets[0].getsockname()[1], cert
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert alpns
        assert all(a == "h2" for a in alpns)


async def test_httpx_over_tls_alpn_h2(tmp_path: Path) -> None:
    async with tls_h2_server(tmp_path) as (port, ca):
        verify = ssl.create_default_context(cafile=ca)
        async with httpx.AsyncClient(http2=True, verify=verify) as client:
            base = f"https://localhost:{port}"
            resp = await client.get(f"{base}/a")
            assert resp.http_version == "HTTP/2"
            assert resp.text == f"GET /a 0 {hashlib.sha256(b'').hexdigest()}"
            payload = os.urandom(1 << 20)
            resps = await asyncio.gather(
                *(client.post(f"{base}/p{i}", content=payload) for i in range(10))
            )
            digest = hashlib.sha256(payload).hexdigest()
            assert [r.text for r in resps] == [
                f"POST /p{i} {len(payload)} {digest}" for i in range(10)
            ]
            big = await client.get(f"{base}/big")
            assert hashlib.sha256(big.content).hexdigest() == big.headers["x-sha"]


HYPERCORN_APP = """
import hashlib

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    h = hashlib.sha256()
    n = 0
    while True:
        m = await receive()
        chunk = m.get("body", b"")
        h.update(chunk)
        n += len(chunk)
        if not m.get("more_body"):
            break
    if scope["path"] == "/big":
        data = b"0123456789abcdef" * 262144
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-sha", hashlib.sha256(data).hexdigest().encode())]})
        await send({"type": "http.response.body", "body": data})
        return
    body = f"{scope['http_version']} {scope['method']} {scope['path']} {n} {h.hexdigest()}"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body.encode()})
"""


async def _wait_port(port: int, proc: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    for _ in range(400):
        if proc.returncode is not None:
            raise AssertionError("hypercorn exited")
        sock = socket.socket()
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
            return
        except OSError:
            await asyncio.sleep(0.05)
        finally:
            sock.close()
    raise AssertionError("hypercorn did not start listening")


@pytest.mark.peer("hypercorn")
async def test_our_client_against_hypercorn(tmp_path: Path) -> None:
    require_module("hypercorn")  # a dev peer of the workspace
    (tmp_path / "h2app.py").write_text(HYPERCORN_APP)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hypercorn",
        "--bind",
        f"127.0.0.1:{port}",
        "h2app:app",
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _wait_port(port, proc)
        client = H2ClientConnection(await tcp_client_stream(port), default_scheme="http")
        async with client:
            resp = await client.send_request(Request("GET", f"http://127.0.0.1:{port}/x"))
            assert resp.status == 200
            assert (await resp.body.collect()).startswith(b"2 GET /x 0 ")
            payload = os.urandom(5 << 20)
            digest = hashlib.sha256(payload).hexdigest()

            async def chunks() -> AsyncIterator[bytes]:
                for i in range(0, len(payload), 65536):
                    yield payload[i : i + 65536]

            reqs = [
                Request("POST", f"http://127.0.0.1:{port}/u{i}", body=Body.from_iter(chunks()))
                for i in range(3)
            ]
            resps = await asyncio.gather(*(client.send_request(r) for r in reqs))
            texts = [(await r.body.collect()).decode() for r in resps]
            assert texts == [f"2 POST /u{i} {len(payload)} {digest}" for i in range(3)]
            resps = await asyncio.gather(
                *(
                    client.send_request(Request("GET", f"http://127.0.0.1:{port}/{i}"))
                    for i in range(30)
                )
            )
            assert all(r.status == 200 for r in resps)
            for r in resps:
                await r.body.collect()
            big = await client.send_request(Request("GET", f"http://127.0.0.1:{port}/big"))
            data = await big.body.collect()
            assert len(data) == 16 * 262144
            assert hashlib.sha256(data).hexdigest() == big.headers["x-sha"]
    finally:
        proc.terminate()
        with contextlib.suppress(ProcessLookupError):
            await asyncio.wait_for(proc.wait(), 10)
