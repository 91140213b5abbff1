"""examples/socks5_connect_proxy_over_tls.py: pyrama's client, TLS first, then SOCKS5."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from itsupport import Spawn

from pyrama_net import Authority, Basic, Stream
from pyrama_socks5 import socks5_connect
from pyrama_socks5.errors import Socks5AuthError
from pyrama_tcp import TcpConnector
from pyrama_testing import free_port
from pyrama_tls import NegotiatedTls, TlsConnectorData, TlsStream, tls_connect

HANG = 20.0


async def http_get(stream: Stream, host: str, path: str) -> bytes:
    stream.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await stream.drain()
    out = bytearray()
    async with asyncio.timeout(HANG):
        while chunk := await stream.read():
            out += chunk
    return bytes(out)


async def test_socks5_over_tls_with_our_client(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path
) -> None:
    (tmp_path / "index.txt").write_bytes(b"socks5 over tls\n")
    port = free_port()
    spawn(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready=r"Serving HTTP",
        cwd=tmp_path,
    )
    cert = tmp_path / "cert.pem"
    proxy = spawn(
        example("socks5_connect_proxy_over_tls"),
        env={"PORT": "0", "CERT_OUT": str(cert), "AUTH": "john:s3cret"},
    )
    trust = TlsConnectorData(ca_file=cert)

    async def tunnel(credentials: Basic | None) -> TlsStream:
        tcp = await TcpConnector().connect("127.0.0.1", proxy.port)
        tls = await tls_connect(tcp, "localhost", trust)
        try:
            await socks5_connect(tls, Authority.parse(f"localhost:{port}"), credentials=credentials)
        except BaseException:
            await tls.close()
            raise
        return tls

    tls = await tunnel(Basic("john", "s3cret"))
    negotiated = tls.extensions.require(NegotiatedTls)
    assert negotiated.server_name == "localhost"
    response = await http_get(tls, f"localhost:{port}", "/index.txt")
    await tls.close()
    assert response.startswith(b"HTTP/1.0 200")
    assert response.endswith(b"\r\n\r\nsocks5 over tls\n")

    with pytest.raises(Socks5AuthError):
        await tunnel(Basic("john", "wrong"))

    # a plain (non-TLS) SOCKS5 client is turned away by the TLS acceptor
    plain = await TcpConnector().connect("127.0.0.1", proxy.port)
    plain.write(b"\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50")
    await plain.drain()
    async with asyncio.timeout(HANG):
        while await plain.read():
            pass
    await plain.close()

    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit() == 0
