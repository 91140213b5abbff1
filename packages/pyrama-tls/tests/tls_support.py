"""Shared helpers for the TLS stream/acceptor/connector tests: a test PKI and servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from OpenSSL import SSL

from pyrama_core import service_fn
from pyrama_net import Stream
from pyrama_tcp import TcpConnector, TcpListener
from pyrama_tls import (
    CertificateAuthority,
    CertifiedKey,
    TlsAcceptorData,
    TlsAcceptorLayer,
    TlsConnectorData,
    TlsConnectorLayer,
    TlsStream,
)
from pyrama_tls._contexts import base_context


@dataclass(frozen=True)
class Pki:
    """A root CA, a server leaf for localhost/127.0.0.1, a client leaf, and a stranger CA."""

    ca: CertificateAuthority
    server: CertifiedKey
    client: CertifiedKey
    other_ca: CertificateAuthority
    other_client: CertifiedKey

    def write(self, directory: Path) -> dict[str, Path]:
        """Write PEM files for external peers (openssl) and return their paths."""
        paths = {
            "ca": directory / "ca.pem",
            "server_cert": directory / "server.pem",
            "server_key": directory / "server.key",
            "client_cert": directory / "client.pem",
            "client_key": directory / "client.key",
        }
        paths["ca"].write_bytes(self.ca.cert_pem())
        paths["server_cert"].write_bytes(self.server.chain_pem())
        paths["server_key"].write_bytes(self.server.key_pem())
        paths["client_cert"].write_bytes(self.client.chain_pem())
        paths["client_key"].write_bytes(self.client.key_pem())
        return paths


@cache
def pki() -> Pki:
    ca = CertificateAuthority.generate("pyrama test CA")
    other = CertificateAuthority.generate("stranger CA")
    return Pki(
        ca=ca,
        server=ca.issue_leaf(["localhost", "*.example.test"], ["127.0.0.1", "::1"]),
        client=ca.issue_leaf(["client.test"], server_auth=False, client_auth=True),
        other_ca=other,
        other_client=other.issue_leaf(["client.test"], server_auth=False, client_auth=True),
    )


def server_data(**kw: Any) -> TlsAcceptorData:
    kw.setdefault("certified_key", pki().server)
    kw.setdefault("keylog_from_env", False)
    return TlsAcceptorData(**kw)


def client_data(**kw: Any) -> TlsConnectorData:
    kw.setdefault("ca_certificates", [pki().ca.cert])
    kw.setdefault("keylog_from_env", False)
    return TlsConnectorData(**kw)


async def echo(stream: Stream) -> None:
    """Echo until EOF, then half-close."""
    while data := await stream.read(65536):
        stream.write(data)
        await stream.drain()
    if stream.can_write_eof():
        stream.write_eof()
        await stream.drain()


async def read_all(stream: Stream, limit: int = 1 << 30) -> bytes:
    out = bytearray()
    while len(out) < limit and (chunk := await stream.read(65536)):
        out += chunk
    return bytes(out)


@contextlib.asynccontextmanager
async def tls_server(
    data: TlsAcceptorData,
    handler: Callable[[Stream], Awaitable[Any]] = echo,
    *,
    host: str = "127.0.0.1",
) -> AsyncIterator[TcpListener]:
    """Serve *handler* behind TlsAcceptorLayer(data) on a loopback TcpListener."""
    listener = await TcpListener.bind(f"{host}:0" if ":" not in host else f"[{host}]:0")
    svc = TlsAcceptorLayer(data).layer(service_fn(handler))
    task = asyncio.create_task(listener.serve(svc))
    try:
        yield listener
    finally:
        await listener.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def connect(
    listener: TcpListener, data: TlsConnectorData | None = None, host: str = "localhost"
) -> TlsStream:
    """TcpConnector + TlsConnectorLayer to *listener* (by *host* name)."""
    connector = TlsConnectorLayer(data or client_data()).layer(TcpConnector())
    est = await connector.serve((host, listener.local_addr.port))
    return est.conn


def memory_pair_contexts(
    server: TlsAcceptorData | None = None, client: TlsConnectorData | None = None
) -> tuple[SSL.Context, SSL.Context]:
    from pyrama_tls import TlsAcceptor, TlsConnector

    acc = TlsAcceptor(server or server_data())
    con = TlsConnector(client or client_data())
    return acc.context_for(None), con.context


__all__ = [
    "Pki",
    "base_context",
    "client_data",
    "connect",
    "echo",
    "memory_pair_contexts",
    "pki",
    "read_all",
    "server_data",
    "tls_server",
]
