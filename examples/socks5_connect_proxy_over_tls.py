"""SOCKS5 over TLS: a TLS acceptor layer in front of the SOCKS5 proxy service.

Nothing in :class:`~pyrama_socks5.Socks5Acceptor` knows about TLS: it serves any
:class:`~pyrama_net.Stream`, so ``TlsAcceptorLayer(...).layer(Socks5Acceptor(...))`` is a
SOCKS5 proxy whose clients talk to it over TLS (the hop to the proxy is encrypted, the
proxy's upstream connections are plain TCP). The relay copies through the TLS stream (no
zero-copy on that side).

Run it::

    python examples/socks5_connect_proxy_over_tls.py           # 127.0.0.1:62024
    python examples/socks5_connect_proxy_over_tls.py 62024     # or PORT=...
    AUTH=john:secret python examples/socks5_connect_proxy_over_tls.py

The certificate is ``CERT``/``KEY`` (PEM files) when set; otherwise a self-signed one for
localhost and 127.0.0.1 is generated and written to ``CERT_OUT`` (default: a file in a new
temporary directory). It logs ``listening address=127.0.0.1:62024 cert=/tmp/.../cert.pem``.

curl 7.88 cannot speak SOCKS over TLS; a pyrama client does it by composition::

    stream = await TcpConnector().connect("127.0.0.1", 62024)
    tls = await tls_connect(stream, "localhost", TlsConnectorData(ca_file=cert))
    await socks5_connect(tls, Authority.parse("example.com:80"))
    # tls is now a tunnel to example.com:80

A client that is not TLS, or stalls in its handshake, is closed and logged by the TLS
acceptor. Ctrl-C (or SIGTERM) stops accepting and gives tunnels in flight up to 10 s.
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
from pyrama_net import Basic, Stream
from pyrama_socks5 import Socks5Acceptor, static_authorizer
from pyrama_tcp import TcpListener
from pyrama_tls import (
    CertifiedKey,
    TlsAcceptorData,
    TlsAcceptorLayer,
    load_certified_key,
    self_signed_leaf,
)
from pyrama_tls.errors import TlsHandshakeError

DEFAULT_PORT = 62024

log = get_logger("socks5_connect_proxy_over_tls")


class HandshakeFailuresLogged:
    """Outermost service: a failed TLS handshake was logged by the acceptor; end it quietly."""

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


async def main(port: int, credentials: Basic | None) -> None:
    """Listen on 127.0.0.1:*port*: TLS, then SOCKS5 CONNECT."""
    key, cert_file = certificate()
    socks5 = Socks5Acceptor(
        authorizer=None if credentials is None else static_authorizer(credentials),
        connect_timeout=10.0,
    )
    tls = TlsAcceptorLayer(TlsAcceptorData(certified_key=key))
    service = HandshakeFailuresLogged(tls.layer(socks5))
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info("listening", address=str(listener.local_addr), cert=cert_file)
    await listener.serve_graceful(service, Shutdown.with_signals(deadline=10.0))
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    auth = os.environ.get("AUTH")
    asyncio.run(
        main(
            int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT)),
            Basic.parse(auth) if auth else None,
        )
    )
