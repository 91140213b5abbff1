"""A SOCKS5 proxy that relays UDP (UDP ASSOCIATE, RFC 1928 section 7) as well as CONNECT.

A client opens a TCP control connection and sends UDP ASSOCIATE; the proxy binds a UDP
socket and names it in its reply. The client then sends each datagram there with the SOCKS5
UDP header (``RSV FRAG ATYP DST.ADDR DST.PORT DATA``); the proxy forwards the payload to the
destination through a :class:`~pyrama_udp.UdpRelay` and wraps every answer in the same header
naming its source. Only datagrams from the client's address are taken, fragments are dropped,
and the association ends when the control connection closes.

The relay sockets bind the control connection's local IP, so a proxy on 127.0.0.1 relays to
loopback only; set ``UDP_EGRESS=0.0.0.0:0`` to relay anywhere.

Run it::

    python examples/socks5_udp_associate.py          # 127.0.0.1:62023
    python examples/socks5_udp_associate.py 62023    # or PORT=...

It logs ``listening address=127.0.0.1:62023``. Then, with PySocks::

    s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
    s.set_proxy(socks.SOCKS5, "127.0.0.1", 62023)
    s.sendto(b"hello", ("127.0.0.1", 5353))
    print(s.recvfrom(4096))

or with pyrama's :class:`~pyrama_socks5.Socks5UdpClient`. Ctrl-C (or SIGTERM) stops.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_socks5 import Socks5Acceptor
from pyrama_tcp import TcpListener

DEFAULT_PORT = 62023

log = get_logger("socks5_udp_associate")


async def main(port: int, egress: str | None) -> None:
    """Listen on 127.0.0.1:*port* and proxy SOCKS5 CONNECT and UDP ASSOCIATE requests."""
    acceptor = Socks5Acceptor(udp_associate=True, udp_session_bind=egress, udp_idle_timeout=60.0)
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info("listening", address=str(listener.local_addr), udp_egress=egress or "control IP")
    await listener.serve_graceful(acceptor, Shutdown.with_signals(deadline=10.0))
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    asyncio.run(
        main(
            int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT)),
            os.environ.get("UDP_EGRESS") or None,
        )
    )
