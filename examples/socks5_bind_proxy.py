"""A SOCKS5 proxy that also serves BIND (RFC 1928 section 4): inbound connections for a client.

BIND is the FTP-style command: the client asks the proxy to listen, the proxy answers with
the address it listens on (first reply), a third party connects there, the proxy answers
again with that peer's address (second reply) and relays the control connection to it.
:class:`~pyrama_socks5.Socks5Acceptor` with ``bind=True`` listens on loopback by default
(``BIND_ADDRESS`` picks another address) and waits up to 30 s for the inbound connection;
when the request names an IP, only a connection from that IP is admitted. CONNECT works too.

Run it::

    python examples/socks5_bind_proxy.py          # 127.0.0.1:62022
    python examples/socks5_bind_proxy.py 62022    # or PORT=...

It logs ``listening address=127.0.0.1:62022 bind_address=127.0.0.1:0``. A client (for example
pyrama's :func:`~pyrama_socks5.socks5_bind`) then does::

    binding = await socks5_bind(stream, Authority.parse("0.0.0.0:0"))
    # tell the peer to connect to binding.bound, then:
    peer = await binding.accept()      # stream now relays to that peer

Ctrl-C (or SIGTERM) stops accepting and gives connections in flight up to 10 s.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_socks5 import Socks5Acceptor
from pyrama_tcp import TcpListener

DEFAULT_PORT = 62022

log = get_logger("socks5_bind_proxy")


async def main(port: int, bind_address: str) -> None:
    """Listen on 127.0.0.1:*port* and proxy SOCKS5 CONNECT and BIND requests."""
    acceptor = Socks5Acceptor(bind=True, bind_address=bind_address, bind_accept_timeout=30.0)
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info("listening", address=str(listener.local_addr), bind_address=bind_address)
    await listener.serve_graceful(acceptor, Shutdown.with_signals(deadline=10.0))
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    asyncio.run(
        main(
            int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT)),
            os.environ.get("BIND_ADDRESS", "127.0.0.1:0"),
        )
    )
