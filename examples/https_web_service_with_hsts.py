"""An HTTPS web service with HSTS, and a plain-HTTP listener that redirects to it.

Two listeners share one graceful shutdown:

* HTTPS (``HTTPS_PORT``): a self-signed certificate for localhost/127.0.0.1 (written to
  ``CERT_OUT`` so a client can trust it), HTTP/1.1 and HTTP/2 by ALPN. Its stack::

      TraceLayer          access log
      HstsLayer           Strict-Transport-Security: max-age=31536000; includeSubDomains
      CompressionLayer    gzip/br/zstd/deflate as the client accepts
      handler             a small HTML page and /api/time (JSON)

* HTTP (``PORT``): :class:`~pyrama_http.layer.HttpsRedirectLayer` answers everything with a
  redirect to the same host and path on the HTTPS port (``301``; ``308`` for methods that
  carry a body).

Run it::

    python examples/https_web_service_with_hsts.py     # http 127.0.0.1:62022, https :62023
    PORT=0 HTTPS_PORT=0 CERT_OUT=/tmp/cert.pem python examples/https_web_service_with_hsts.py

Then::

    curl -i http://127.0.0.1:62022/api/time                        # 301 to https://...:62023
    curl -L --cacert /tmp/cert.pem -i http://localhost:62022/      # follows, shows HSTS
    curl --compressed --cacert /tmp/cert.pem -v https://localhost:62023/   # Content-Encoding

Ctrl-C (or SIGTERM) stops both listeners gracefully.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from pyrama_core import Service, Shutdown, layers, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.layer import CompressionLayer, HstsLayer, HttpsRedirectLayer, TraceLayer
from pyrama_http_types import Request, Response
from pyrama_net import SocketAddress
from pyrama_tls import CertifiedKey, TlsAcceptorData, self_signed_leaf

DEFAULT_PORT = 62022
DEFAULT_HTTPS_PORT = 62023

log = get_logger("https_web_service_with_hsts")

PAGE = (
    """<!doctype html>
<html><head><title>pyrama over HTTPS</title></head>
<body><h1>Hello over HTTPS</h1>
<p>This page is served with Strict-Transport-Security, compressed when your client asks.</p>
"""
    + "<p>Filler so compression has something to do.</p>\n" * 40
    + "</body></html>\n"
)


async def site(request: Request) -> Response:
    """The web service behind TLS."""
    if request.uri.path == "/api/time":
        return Response.json({"unix": int(time.time())})
    return Response.html(PAGE)


def https_service() -> Service[Request, Response]:
    """The HTTPS side's stack."""
    svc: Service[Request, Response] = layers(
        TraceLayer(), HstsLayer(include_subdomains=True), CompressionLayer()
    ).into(service_fn(site))
    return svc


def http_service(https_port: int) -> Service[Request, Response]:
    """The plain side: redirect everything to HTTPS."""

    async def unreachable(request: Request) -> Response:
        return Response.text("not found\n", 404)

    svc: Service[Request, Response] = layers(TraceLayer(), HttpsRedirectLayer(https_port)).into(
        service_fn(unreachable)
    )
    return svc


def certificate() -> tuple[CertifiedKey, Path]:
    """A self-signed certificate, written to CERT_OUT (or a temporary file) for clients."""
    key = self_signed_leaf(["localhost", "127.0.0.1"])
    cert_out = Path(os.environ.get("CERT_OUT") or Path(tempfile.mkdtemp()) / "cert.pem")
    cert_out.write_bytes(key.cert_pem())
    return key, cert_out


async def main(port: int, https_port: int) -> None:
    """Run both listeners until SIGINT/SIGTERM."""
    key, cert_out = certificate()
    shutdown = Shutdown.with_signals(deadline=5.0)
    bound: asyncio.Future[SocketAddress] = asyncio.get_running_loop().create_future()

    def https_bound(addr: SocketAddress) -> None:
        log.info("https listening", address=str(addr), cert=str(cert_out))
        bound.set_result(addr)

    secure = asyncio.create_task(
        HttpServer.auto().listen(
            ("127.0.0.1", https_port),
            https_service(),
            tls=TlsAcceptorData(certified_key=key),
            shutdown=shutdown,
            on_listening=https_bound,
        )
    )
    https_addr = await asyncio.wait_for(asyncio.shield(bound), 30)

    def http_bound(addr: SocketAddress) -> None:
        log.info("http listening", address=str(addr), redirect_to=https_addr.port)

    plain = asyncio.create_task(
        HttpServer.auto().listen(
            ("127.0.0.1", port),
            http_service(https_addr.port),
            shutdown=shutdown,
            on_listening=http_bound,
        )
    )
    await asyncio.gather(secure, plain)
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(
            int(os.environ.get("PORT", DEFAULT_PORT)),
            int(os.environ.get("HTTPS_PORT", DEFAULT_HTTPS_PORT)),
        )
    )
