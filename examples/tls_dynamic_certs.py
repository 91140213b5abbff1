"""A TLS server with a certificate for every name clients ask for, minted on the fly.

A :class:`~pyrama_tls.DynamicIssuer` signs a leaf certificate per SNI with a local
:class:`~pyrama_tls.CertificateAuthority` (kept in ``CA_DIR`` so clients trust it once) and
caches it; :class:`~pyrama_tls.TlsAcceptorData` takes it as its ``issuer``. This is the
certificate half of a MITM proxy or of a development server for many host names. The
service behind answers every HTTP request with ``hello, <SNI>`` and the certificate's
subject.

Run it::

    python examples/tls_dynamic_certs.py            # 127.0.0.1:62044, CA in a new temp dir
    PORT=0 CA_DIR=./my-ca python examples/tls_dynamic_certs.py

It logs ``listening address=127.0.0.1:62044 ca=/.../ca-cert.pem`` (the CA is created on the
first run and loaded afterwards). Trust that file and ask for any name::

    curl --cacert /.../ca-cert.pem --resolve shop.test:62044:127.0.0.1 https://shop.test:62044/
    hello, shop.test (certificate CN=shop.test, issued by CN=pyrama example CA)

Each request logs ``served sni=shop.test`` with the issuer's cache statistics (the second
request for a name is a cache hit). A client without SNI, or with a name that is not a
valid domain or IP address, is refused at the handshake (``tls handshake failed``): a garbage
name is never signed. Ctrl-C (or SIGTERM) stops accepting and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile

from pyrama_core import Service, Shutdown
from pyrama_core.errors import LimitError
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_net import Stream, read_until, rewind
from pyrama_net.errors import StreamError
from pyrama_tcp import TcpListener
from pyrama_tls import (
    CertificateAuthority,
    DynamicIssuer,
    NegotiatedTls,
    TlsAcceptorData,
    TlsAcceptorLayer,
)
from pyrama_tls.errors import TlsHandshakeError

DEFAULT_PORT = 62044
MAX_REQUEST_HEAD = 16 * 1024

log = get_logger("tls_dynamic_certs")


class Hello:
    """``Service[Stream, None]``: read one HTTP request head, answer with the SNI and cert."""

    def __init__(self, issuer: DynamicIssuer) -> None:
        self.issuer = issuer

    async def serve(self, stream: Stream) -> None:
        """Answer one request on the TLS stream, then let the acceptor close it."""
        tls = stream.extensions.get(NegotiatedTls)
        sni = None if tls is None else tls.server_name
        buffered = rewind(stream, b"")
        try:
            await read_until(buffered, b"\r\n\r\n", MAX_REQUEST_HEAD)
        except (LimitError, StreamError) as exc:
            log.info("bad request", sni=sni, error=str(exc))
            return
        if sni is None:  # not reached: the issuer needs a name, so no-SNI clients are refused
            body = "hello, whoever you are\n"
        else:
            cert = self.issuer.certified_key_for(sni).leaf
            body = (
                f"hello, {sni} (certificate {cert.subject.rfc4514_string()}, "
                f"issued by {cert.issuer.rfc4514_string()})\n"
            )
        data = body.encode()
        stream.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n"
            + f"content-length: {len(data)}\r\n\r\n".encode()
            + data
        )
        await stream.drain()
        stats = self.issuer.stats()
        log.info("served", sni=sni, issued=stats.issued, hits=stats.hits, cached=stats.size)


class HandshakeFailuresLogged:
    """Outermost service: a failed handshake was logged by the acceptor; end it quietly."""

    def __init__(self, inner: Service[Stream, None]) -> None:
        self.inner = inner

    async def serve(self, stream: Stream) -> None:
        """Serve *stream*; swallow handshake errors (already logged, connection closed)."""
        with contextlib.suppress(TlsHandshakeError):
            await self.inner.serve(stream)


async def main(port: int, ca_dir: str) -> None:
    """Serve TLS on 127.0.0.1:*port* with per-SNI certificates from the CA in *ca_dir*."""
    ca = CertificateAuthority.load_or_generate(ca_dir, "pyrama example CA")
    issuer = DynamicIssuer(ca)
    tls = TlsAcceptorLayer(TlsAcceptorData(issuer=issuer, alpn=["http/1.1"]))
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info(
        "listening",
        address=str(listener.local_addr),
        ca=os.path.join(ca_dir, "ca-cert.pem"),
    )
    service = HandshakeFailuresLogged(tls.layer(Hello(issuer)))
    await listener.serve_graceful(service, Shutdown.with_signals(deadline=5.0))
    log.info("stopped", issued=issuer.stats().issued)


if __name__ == "__main__":
    setup_logging()
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT))
    ca_dir = os.environ.get("CA_DIR") or tempfile.mkdtemp(prefix="pyrama-ca-")
    asyncio.run(main(port, ca_dir))
