"""A SOCKS5 proxy (RFC 1928) that serves CONNECT, with optional username/password (RFC 1929).

Every accepted connection is served by :class:`~pyrama_socks5.Socks5Acceptor`: it runs the
SOCKS5 handshake, opens the requested connection with a :class:`~pyrama_tcp.TcpConnector`
(a domain in the request is resolved here, by the proxy: ``socks5h``) and relays both ways
with :func:`~pyrama_net.bridge`, zero-copy when both ends are plain sockets. A
:class:`~pyrama_core.layer.ConcurrencyLimitLayer` in front caps the connections served at
once.

Run it::

    python examples/socks5_connect_proxy.py              # 127.0.0.1:62021, no auth
    AUTH=john:secret python examples/socks5_connect_proxy.py 62021

It logs ``listening address=127.0.0.1:62021 auth=...``. Then::

    curl --socks5-hostname 127.0.0.1:62021 http://example.com/          # the proxy resolves
    curl --socks5 127.0.0.1:62021 http://example.com/                   # curl resolves
    curl --socks5-hostname 127.0.0.1:62021 --proxy-user john:secret http://example.com/

With ``AUTH`` set, clients without those credentials are refused (RFC 1929 status 1) and
nothing is forwarded. Failed connects are answered with the matching reply code (refused
0x05, unknown host 0x04, timeout 0x06) and logged as ``socks5 connect failed``. Ctrl-C (or
SIGTERM) stops accepting and gives tunnels in flight up to 10 s.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown
from pyrama_core.layer import ConcurrencyLimitLayer
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_net import Basic
from pyrama_socks5 import Socks5Acceptor, static_authorizer
from pyrama_tcp import TcpConnector, TcpListener

DEFAULT_PORT = 62021
MAX_CONNECTIONS = 1024

log = get_logger("socks5_connect_proxy")


async def main(port: int, credentials: Basic | None) -> None:
    """Listen on 127.0.0.1:*port* and proxy SOCKS5 CONNECT requests."""
    acceptor = Socks5Acceptor(
        authorizer=None if credentials is None else static_authorizer(credentials),
        connector=TcpConnector(),
        connect_timeout=10.0,
        handshake_timeout=10.0,
    )
    service = ConcurrencyLimitLayer(MAX_CONNECTIONS).layer(acceptor)
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info(
        "listening",
        address=str(listener.local_addr),
        auth="none" if credentials is None else f"username/password ({credentials.username})",
    )
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
