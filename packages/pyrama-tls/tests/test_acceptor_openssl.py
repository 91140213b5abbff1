"""A real `openssl s_client` against our TLS acceptor (loopback, generated certificates)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tls_support import pki, server_data, tls_server

from pyrama_net import Stream
from pyrama_testing import require_peer
from pyrama_tls import ClientHello, NegotiatedTls

pytestmark = pytest.mark.peer("openssl")


async def _s_client(port: int, ca: Path, *args: str) -> str:
    openssl = require_peer("openssl")
    proc = await asyncio.create_subprocess_exec(
        openssl,
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-CAfile",
        str(ca),
        "-ign_eof",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(b"hello from s_client\n"), 30)
    return out.decode(errors="replace")


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
async def test_openssl_s_client_against_our_acceptor(tmp_path: Path, version: str) -> None:
    paths = pki().write(tmp_path)
    seen: list[NegotiatedTls] = []

    async def handler(stream: Stream) -> None:
        seen.append(stream.extensions.require(NegotiatedTls))
        line = b""
        while not line.endswith(b"\n"):
            chunk = await stream.read()
            if not chunk:
                break
            line += chunk
        stream.write(b"ECHO:" + line)
        await stream.drain()

    data = server_data(alpn=["http/1.1", "h2"])
    async with tls_server(data, handler) as listener:
        out = await _s_client(
            listener.local_addr.port,
            paths["ca"],
            "-servername",
            "x.example.test",
            "-verify_hostname",
            "x.example.test",
            "-alpn",
            "h2",
            version,
        )
    assert "ALPN protocol: h2" in out
    assert "Verify return code: 0 (ok)" in out
    assert "ECHO:hello from s_client" in out
    (n,) = seen
    assert n.server_name == "x.example.test"
    assert n.alpn == "h2"
    assert n.version == ("TLSv1.2" if version == "-tls1_2" else "TLSv1.3")
    assert isinstance(n.client_hello, ClientHello)
    assert n.client_hello.server_name == "x.example.test"


async def test_openssl_s_client_with_a_client_certificate(tmp_path: Path) -> None:
    paths = pki().write(tmp_path)
    seen: list[NegotiatedTls] = []

    async def handler(stream: Stream) -> None:
        seen.append(stream.extensions.require(NegotiatedTls))
        stream.write(b"welcome\n")
        await stream.drain()

    data = server_data(client_auth="required", client_ca=[pki().ca.cert])
    async with tls_server(data, handler) as listener:
        out = await _s_client(
            listener.local_addr.port,
            paths["ca"],
            "-servername",
            "localhost",
            "-cert",
            str(paths["client_cert"]),
            "-key",
            str(paths["client_key"]),
        )
    assert "welcome" in out
    assert seen[0].peer_certificate == pki().client.leaf
