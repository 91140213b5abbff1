"""Our TLS client against a real `openssl s_server` (loopback, generated certificates)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tls_support import client_data, pki

from pyrama_tcp import TcpConnector
from pyrama_testing import free_port, require_peer
from pyrama_tls import NegotiatedTls, TlsConnectorLayer, TlsStream
from pyrama_tls.errors import CertificateVerifyError

pytestmark = pytest.mark.peer("openssl")


@contextlib.asynccontextmanager
async def s_server(tmp_path: Path, *extra: str) -> AsyncIterator[int]:
    openssl = require_peer("openssl")
    paths = pki().write(tmp_path)
    for _attempt in range(5):
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            openssl,
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-cert",
            str(paths["server_cert"]),
            "-key",
            str(paths["server_key"]),
            "-alpn",
            "h2,http/1.1",
            "-www",
            *extra,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        ready = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while line := await proc.stdout.readline():
                    if b"ACCEPT" in line:
                        ready = True
                        break
        if not ready:
            proc.kill()
            await proc.wait()
            continue  # the port was taken meanwhile; try another
        try:
            yield port
        finally:
            proc.kill()
            await proc.wait()
        return
    pytest.fail("openssl s_server did not start")


async def _get(tls: TlsStream) -> bytes:
    tls.write(b"GET / HTTP/1.0\r\n\r\n")
    out = bytearray()
    while chunk := await tls.read():
        out += chunk
    await tls.close()
    return bytes(out)


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
async def test_our_client_against_openssl_s_server(tmp_path: Path, version: str) -> None:
    async with s_server(tmp_path) as port:
        svc = TlsConnectorLayer(client_data(alpn=["h2"], max_version=version)).layer(TcpConnector())
        est = await svc.serve(("localhost", port))
        n = est.conn.extensions.require(NegotiatedTls)
        assert n.version == version
        assert n.alpn == "h2"
        assert n.peer_certificate == pki().server.leaf
        reply = await _get(est.conn)
    assert reply.startswith(b"HTTP/1.0 200 ok")
    assert version.encode() in reply  # s_server's status page names the protocol


async def test_our_client_refuses_openssl_s_server_with_a_wrong_name(tmp_path: Path) -> None:
    async with s_server(tmp_path) as port:
        svc = TlsConnectorLayer(client_data(server_name="elsewhere.test")).layer(TcpConnector())
        with pytest.raises(CertificateVerifyError):
            await svc.serve(("127.0.0.1", port))


async def test_session_resumption_against_openssl(tmp_path: Path) -> None:
    async with s_server(tmp_path) as port:
        svc = TlsConnectorLayer(client_data()).layer(TcpConnector())
        first = await svc.serve(("localhost", port))
        assert b"200 ok" in await _get(first.conn)
        second = await svc.serve(("localhost", port))
        assert second.conn.extensions.require(NegotiatedTls).session_reused
        assert b"200 ok" in await _get(second.conn)
