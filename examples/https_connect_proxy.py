r"""An HTTPS proxy: http_connect_proxy.py behind TLS (rama's https_connect_proxy).

Clients talk TLS to the proxy (ALPN ``h2`` or ``http/1.1``), then ask it for plain
``http://`` URLs (forwarded) or ``CONNECT`` tunnels (``https://`` URLs: the tunnel carries
the client's own TLS to the origin; nothing is decrypted). Basic proxy authentication,
``john:secret``.

Run it::

    python examples/https_connect_proxy.py           # listens on 127.0.0.1:62016 (PORT=...)

The certificate is ``CERT``/``KEY`` (PEM files) when set; otherwise a self-signed one for
localhost and 127.0.0.1 is generated and written to ``CERT_OUT`` (default: a file in a new
temporary directory), and logged as ``cert=...``. Then::

    curl --proxy-insecure -x https://127.0.0.1:62016 -U john:secret http://www.example.com/
    curl --proxy-cacert /tmp/.../cert.pem -x https://localhost:62016 -U john:secret \
         https://www.example.com/

Every request is logged as ``proxy request method=... target=... alpn=... tls=...``.
Ctrl-C (or SIGTERM) stops accepting and gives connections in flight up to 10 s.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from pyrama_core import Service, Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http.proxy import HttpProxy, ProxyAuthLayer, http_proxy_server
from pyrama_http_types import Request, Response
from pyrama_net import Basic
from pyrama_tls import (
    CertifiedKey,
    NegotiatedTls,
    TlsAcceptorData,
    load_certified_key,
    self_signed_leaf,
)

DEFAULT_PORT = 62016

log = get_logger("https_connect_proxy")


class LogRequests:
    """Logs each authenticated request with the TLS facts of its connection."""

    def __init__(self, inner: Service[Request, Response]) -> None:
        self.inner = inner

    async def serve(self, request: Request) -> Response:
        """Log and forward *request*."""
        tls = request.extensions.get(NegotiatedTls)
        log.info(
            "proxy request",
            method=str(request.method),
            target=str(request.uri),
            version=request.version.value,
            alpn=None if tls is None else tls.alpn,
            tls=None if tls is None else tls.version,
        )
        return await self.inner.serve(request)


def certificate() -> tuple[CertifiedKey, str]:
    """The certificate to serve and the file a client can trust it with."""
    cert, key = os.environ.get("CERT"), os.environ.get("KEY")
    if cert:
        return load_certified_key(cert, key), cert
    generated = self_signed_leaf(["localhost", "127.0.0.1"])
    out = Path(os.environ.get("CERT_OUT") or Path(tempfile.mkdtemp()) / "cert.pem")
    out.write_bytes(generated.cert_pem())
    return generated, str(out)


async def main(port: int) -> None:
    """Run the HTTPS proxy on 127.0.0.1:*port* until SIGINT/SIGTERM."""
    key, cert_file = certificate()
    log.info("certificate", cert=cert_file)
    proxy = HttpProxy()
    service = ProxyAuthLayer(Basic("john", "secret")).layer(LogRequests(proxy))
    try:
        await http_proxy_server(
            ("127.0.0.1", port),
            service,
            tls=TlsAcceptorData(certified_key=key),  # ALPN h2 + http/1.1 filled in
            shutdown=Shutdown.with_signals(deadline=10.0),
        )
    finally:
        await proxy.close()
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    asyncio.run(main(int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT))))
