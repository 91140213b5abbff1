"""A TLS termination proxy: TLS in front of a plain TCP (for example HTTP) server.

Every accepted connection goes through a :class:`~pyrama_tls.TlsAcceptorLayer`, which
handshakes (ALPN ``http/1.1``, so HTTP clients speak HTTP/1.1 to the plain origin behind).
The service behind it gets the decrypted :class:`~pyrama_tls.TlsStream`, opens a plain
connection to the target with a :class:`~pyrama_tcp.TcpConnector` and relays both ways
with :func:`~pyrama_net.bridge`. The handshake's outcome (SNI, ALPN, version) is in the
stream's extensions as :class:`~pyrama_tls.NegotiatedTls`.

Run it (the target defaults to 127.0.0.1:8080)::

    python -m http.server 8080 --bind 127.0.0.1 &                # a plain HTTP origin
    python examples/tls_termination.py                            # 127.0.0.1:62043
    python examples/tls_termination.py 62043 127.0.0.1:8080       # or PORT=... TARGET=...

The certificate is ``CERT``/``KEY`` (PEM files) when set; otherwise a self-signed one for
localhost and 127.0.0.1 is generated and written to ``CERT_OUT`` (default: a file in a new
temporary directory), so clients can trust it. It logs::

    listening address=127.0.0.1:62043 target=127.0.0.1:8080 cert=/tmp/.../cert.pem
              spki_sha256=sha256//...

Then::

    curl --cacert /tmp/.../cert.pem https://localhost:62043/

fetches the origin's page over TLS; the proxy logs one ``terminated`` line per connection
(SNI, ALPN, TLS version, bytes each way). A client that is not TLS, or stalls in its
handshake (10 s), is closed and logged as ``tls handshake failed``; a dead target closes
the client's connection (``target unreachable``). Ctrl-C (or SIGTERM) stops accepting and
gives connections in flight up to 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from pyrama_core import Service, Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_net import Authority, BridgeError, SocketInfo, Stream, bridge
from pyrama_net.errors import ConnectError
from pyrama_tcp import TcpConnector, TcpListener
from pyrama_tls import (
    CertifiedKey,
    NegotiatedTls,
    TlsAcceptorData,
    TlsAcceptorLayer,
    load_certified_key,
    self_signed_leaf,
)
from pyrama_tls.errors import TlsHandshakeError

DEFAULT_PORT = 62043
DEFAULT_TARGET = "127.0.0.1:8080"

log = get_logger("tls_termination")


class Forward:
    """``Service[Stream, None]``: relay the decrypted stream to *target* over plain TCP."""

    def __init__(self, target: Authority, connector: TcpConnector) -> None:
        self.target = target
        self.connector = connector

    async def serve(self, stream: Stream) -> None:
        """Connect to the target and bridge it with the TLS stream until both directions end."""
        tls = stream.extensions.get(NegotiatedTls)
        info = stream.extensions.get(SocketInfo)
        try:
            upstream = (await self.connector.serve(self.target)).conn
        except ConnectError as exc:
            log.warning("target unreachable", target=str(self.target), error=str(exc))
            return  # the acceptor ends the TLS connection
        peer = None if info is None else f"{info.peer[0]}:{info.peer[1]}"
        try:
            stats = await bridge(stream, upstream)  # owns and closes both streams
        except BridgeError as exc:  # a side reset or broke TLS mid-way
            log.info("relay failed", peer=peer, side=exc.side, error=str(exc.__cause__ or exc))
            return
        log.info(
            "terminated",
            peer=peer,
            sni=None if tls is None else tls.server_name,
            alpn=None if tls is None else tls.alpn,
            version=None if tls is None else tls.version,
            up=stats.a_to_b,
            down=stats.b_to_a,
        )


class HandshakeFailuresLogged:
    """Outermost service: a failed handshake was logged by the acceptor; end it quietly.

    Without it the listener would log every bad client (plain text on the port, a scanner)
    as a failing service, with a traceback.
    """

    def __init__(self, inner: Service[Stream, None]) -> None:
        self.inner = inner

    async def serve(self, stream: Stream) -> None:
        """Serve *stream*; swallow handshake errors (already logged, connection closed)."""
        with contextlib.suppress(TlsHandshakeError):
            await self.inner.serve(stream)


def certificate() -> tuple[CertifiedKey, str]:
    """The certificate to serve and the file a client can trust it with."""
    cert, key = os.environ.get("CERT"), os.environ.get("KEY")
    if cert:
        return load_certified_key(cert, key), cert
    generated = self_signed_leaf(["localhost", "127.0.0.1"])
    out = Path(os.environ.get("CERT_OUT") or Path(tempfile.mkdtemp()) / "cert.pem")
    out.write_bytes(generated.cert_pem())
    return generated, str(out)


async def main(port: int, target: Authority) -> None:
    """Listen on 127.0.0.1:*port*, terminate TLS and forward the plaintext to *target*."""
    key, cert_file = certificate()
    tls = TlsAcceptorLayer(TlsAcceptorData(certified_key=key, alpn=["http/1.1"]))
    service = HandshakeFailuresLogged(tls.layer(Forward(target, TcpConnector(connect_timeout=5.0))))
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info(
        "listening",
        address=str(listener.local_addr),
        target=str(target),
        cert=cert_file,
        spki_sha256=str(key.spki_sha256()),
    )
    await listener.serve_graceful(service, Shutdown.with_signals(deadline=10.0))
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    asyncio.run(
        main(
            int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT)),
            Authority.parse(args[1] if len(args) > 1 else os.environ.get("TARGET", DEFAULT_TARGET)),
        )
    )
