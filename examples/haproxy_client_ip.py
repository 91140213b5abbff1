"""An HTTP server behind HAProxy that answers with the original client's IP address.

A load balancer in front of a server hides the client: the server's socket peer is the
balancer. With the PROXY protocol the balancer writes a small header (v1 text or v2 binary)
first on every connection, naming the client's address (and, in v2, TLVs such as the TLS
facts or a request id). :class:`~pyrama_haproxy.HaProxyLayer` reads it and puts the client's
address where every service looks for the peer (the stream's ``SocketInfo``), so the HTTP
service below just reports its peer::

    TcpListener
      HaProxyLayer        reads the PROXY header (strict: a connection without one is closed)
        HttpServer.auto   HTTP/1.1 and h2c
          client_ip       the IP (a text line) plus the header's facts in x-proxy-* headers

Run it::

    python examples/haproxy_client_ip.py                 # 127.0.0.1:62025
    PORT=0 LENIENT=1 python examples/haproxy_client_ip.py # also serve clients without a header

It logs ``listening address=127.0.0.1:62025 strict=True``. Then, with curl sending a v1
header itself::

    curl --haproxy-protocol http://127.0.0.1:62025/

or put HAProxy in front (``server app 127.0.0.1:62025 send-proxy-v2``) and curl HAProxy.
A connection with a broken or missing header is closed and logged at info; the server keeps
serving. Ctrl-C stops it gracefully.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown, layers, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_haproxy import HaProxyLayer, ProxyHeader, ProxyProtocolInfo
from pyrama_http import HttpServer
from pyrama_http_types import Request, Response
from pyrama_net import SocketInfo
from pyrama_tcp import TcpListener

DEFAULT_PORT = 62025

log = get_logger("haproxy_client_ip")


def describe_tlvs(header: ProxyHeader) -> str:
    """The header's TLVs in one readable line (``alpn=h2; authority=example.com; ...``)."""
    parts: list[str] = []
    if header.alpn is not None:
        parts.append(f"alpn={header.alpn.decode('ascii', 'replace')}")
    if header.authority is not None:
        parts.append(f"authority={header.authority}")
    if header.unique_id is not None:
        parts.append(f"unique-id={header.unique_id.decode('ascii', 'replace')}")
    if header.crc32c is not None:
        parts.append(f"crc32c={header.crc32c:08x}")
    ssl = header.ssl
    if ssl is not None:
        parts.append(
            f"ssl={ssl.version or '-'},cipher={ssl.cipher or '-'},sig={ssl.sig_alg or '-'},"
            f"key={ssl.key_alg or '-'},client={ssl.client}"
        )
    if header.netns is not None:
        parts.append(f"netns={header.netns}")
    parts.extend(f"tlv-{t.type:02x}={t.value.hex()}" for t in header.custom_tlvs)
    return "; ".join(parts)


async def client_ip(request: Request) -> Response:
    """Answer with the client's IP address (the PROXY header's source, if it named one)."""
    info = request.extensions.get(SocketInfo)
    peer = info.peer_address if info is not None else None
    if peer is None:
        return Response.text("the client's address is unknown\n", 500)
    response = Response.text(f"{peer.ip}\n")
    response.headers.set("x-client-addr", str(peer))
    proxied = request.extensions.get(ProxyProtocolInfo)
    if proxied is not None:
        header = proxied.header
        response.headers.set("x-proxy-version", f"v{int(header.version)}")
        response.headers.set("x-proxy-command", header.command.name)
        if proxied.proxy is not None and proxied.proxy.peer_address is not None:
            response.headers.set("x-proxy-peer", str(proxied.proxy.peer_address))
        tlvs = describe_tlvs(header)
        if tlvs:
            response.headers.set("x-proxy-tlvs", tlvs)
    return response


async def main(port: int, strict: bool) -> None:
    """Bind 127.0.0.1:*port* and serve until SIGINT/SIGTERM."""
    service = layers(HaProxyLayer(strict=strict)).into(
        HttpServer.auto().service(service_fn(client_ip))
    )
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info("listening", address=str(listener.local_addr), strict=strict)
    await listener.serve_graceful(service, Shutdown.with_signals(deadline=5.0))
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(
            int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)),
            os.environ.get("LENIENT", "") in ("", "0"),
        )
    )
