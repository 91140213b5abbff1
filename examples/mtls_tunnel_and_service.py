"""Mutual TLS: a service that requires client certificates, and a tunnel entry presenting one.

Two listeners in one process:

* the **service** (``PORT``, default 62046) speaks TLS with ``client_auth=REQUIRED``: only
  clients with a certificate issued by the example CA get in. It answers every HTTP request
  with ``hello, <client certificate subject>`` (read from
  :attr:`~pyrama_tls.NegotiatedTls.peer_certificate`);
* the **tunnel entry** (``ENTRY_PORT``, default 62047) accepts plain TCP and connects to the
  service with a :class:`~pyrama_tls.TlsConnectorLayer` that verifies the service against
  the CA and presents the client certificate, then relays with :func:`~pyrama_net.bridge`.
  A plain client (``curl http://...``) gets through without knowing about TLS or keys.

The CA, the service's certificate (localhost, 127.0.0.1) and the client certificate are
created in ``PKI_DIR`` (default: a new temporary directory) and their paths logged, so other
clients can use them too.

Run it::

    python examples/mtls_tunnel_and_service.py         # service :62046, entry :62047
    PORT=0 ENTRY_PORT=0 PKI_DIR=./pki python examples/mtls_tunnel_and_service.py

It logs ``pki ca=.../ca.pem client_cert=.../client.pem client_key=.../client-key.pem``,
``service listening address=127.0.0.1:62046`` and ``entry listening
address=127.0.0.1:62047``. Then::

    curl http://127.0.0.1:62047/                                    # through the tunnel
    hello, CN=client.example.test
    curl --cacert .../ca.pem https://localhost:62046/               # no certificate: refused
    curl --cacert .../ca.pem --cert .../client.pem --key .../client-key.pem https://localhost:62046/

The service logs ``served client=CN=client.example.test`` per request, and ``tls
handshake failed`` for clients without a certificate. Ctrl-C (or SIGTERM) stops both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from pyrama_core import Service, Shutdown
from pyrama_core.errors import LimitError, PyramaError
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_net import Authority, BridgeError, ConnectTarget, Stream, bridge, read_until, rewind
from pyrama_net.errors import StreamError
from pyrama_tcp import TcpConnector, TcpListener
from pyrama_tls import (
    CertificateAuthority,
    ClientAuth,
    NegotiatedTls,
    TlsAcceptorData,
    TlsAcceptorLayer,
    TlsConnectorData,
    TlsConnectorLayer,
    TlsConnectorService,
    load_certified_key,
    save_certified_key,
)
from pyrama_tls.errors import TlsHandshakeError

DEFAULT_PORT = 62046
DEFAULT_ENTRY_PORT = 62047
MAX_REQUEST_HEAD = 16 * 1024

log = get_logger("mtls_tunnel_and_service")


class Hello:
    """``Service[Stream, None]``: answer one HTTP request with the client certificate's subject."""

    async def serve(self, stream: Stream) -> None:
        """Read the request head, answer, and let the acceptor close the connection."""
        tls = stream.extensions.get(NegotiatedTls)
        cert = None if tls is None else tls.peer_certificate
        who = "nobody" if cert is None else cert.subject.rfc4514_string()
        try:
            await read_until(rewind(stream, b""), b"\r\n\r\n", MAX_REQUEST_HEAD)
        except (LimitError, StreamError) as exc:
            log.info("bad request", client=who, error=str(exc))
            return
        body = f"hello, {who}\n".encode()
        stream.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await stream.drain()
        log.info("served", client=who)


class Entry:
    """``Service[Stream, None]``: the tunnel entry, plain in, mutual TLS out."""

    def __init__(self, connector: TlsConnectorService[ConnectTarget], target: Authority) -> None:
        self.connector = connector
        self.target = target

    async def serve(self, stream: Stream) -> None:
        """Connect to the service with TLS and our client certificate, then relay."""
        try:
            upstream = (await self.connector.serve(self.target)).conn
        except (OSError, PyramaError) as exc:
            log.warning("service unreachable", target=str(self.target), error=str(exc))
            return
        try:
            stats = await bridge(stream, upstream)
        except BridgeError as exc:
            log.info("tunnel failed", side=exc.side, error=str(exc.__cause__ or exc))
            return
        log.info("tunnelled", up=stats.a_to_b, down=stats.b_to_a)


class HandshakeFailuresLogged:
    """Outermost service: a failed handshake was logged by the acceptor; end it quietly."""

    def __init__(self, inner: Service[Stream, None]) -> None:
        self.inner = inner

    async def serve(self, stream: Stream) -> None:
        """Serve *stream*; swallow handshake errors (already logged, connection closed)."""
        with contextlib.suppress(TlsHandshakeError):
            await self.inner.serve(stream)


def make_pki(directory: Path) -> dict[str, Path]:
    """Create the CA, the service certificate and the client certificate as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.generate("pyrama example mTLS CA")
    paths = {
        "ca": directory / "ca.pem",
        "server_cert": directory / "server.pem",
        "server_key": directory / "server-key.pem",
        "client_cert": directory / "client.pem",
        "client_key": directory / "client-key.pem",
    }
    paths["ca"].write_bytes(ca.cert_pem())
    server = ca.issue_leaf(["localhost", "127.0.0.1"])
    save_certified_key(server, paths["server_cert"], paths["server_key"])
    client = ca.issue_leaf(["client.example.test"], server_auth=False, client_auth=True)
    save_certified_key(client, paths["client_cert"], paths["client_key"])
    return paths


async def main(port: int, entry_port: int, pki_dir: Path) -> None:
    """Run the mTLS service on *port* and the tunnel entry on *entry_port* until a signal."""
    pki = make_pki(pki_dir)
    log.info(
        "pki",
        ca=str(pki["ca"]),
        client_cert=str(pki["client_cert"]),
        client_key=str(pki["client_key"]),
    )
    service_tls = TlsAcceptorData.from_pem_files(
        pki["server_cert"],
        pki["server_key"],
        client_auth=ClientAuth.REQUIRED,
        client_ca_file=pki["ca"],
        alpn=["http/1.1"],
    )
    service_listener = await TcpListener.bind(("127.0.0.1", port))
    log.info("service listening", address=str(service_listener.local_addr))

    entry_tls = TlsConnectorData(
        ca_file=pki["ca"],
        server_name="localhost",
        client_certificate=load_certified_key(pki["client_cert"], pki["client_key"]),
    )
    target = Authority.parse(str(service_listener.local_addr))
    entry = Entry(TlsConnectorLayer(entry_tls).layer(TcpConnector(connect_timeout=5.0)), target)
    entry_listener = await TcpListener.bind(("127.0.0.1", entry_port))
    log.info("entry listening", address=str(entry_listener.local_addr), target=str(target))

    shutdown = Shutdown.with_signals(deadline=5.0)
    service = HandshakeFailuresLogged(TlsAcceptorLayer(service_tls).layer(Hello()))
    await asyncio.gather(
        service_listener.serve_graceful(service, shutdown),
        entry_listener.serve_graceful(entry, shutdown),
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT))
    entry_port = int(
        sys.argv[2] if len(sys.argv) > 2 else os.environ.get("ENTRY_PORT", DEFAULT_ENTRY_PORT)
    )
    pki_dir = Path(os.environ.get("PKI_DIR") or tempfile.mkdtemp(prefix="pyrama-mtls-"))
    asyncio.run(main(port, entry_port, pki_dir))
