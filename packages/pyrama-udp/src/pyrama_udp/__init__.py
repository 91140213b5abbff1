"""pyrama-udp: async UDP sockets, datagram services and a UDP relay."""

from pyrama_net import AddrLike
from pyrama_udp._datagram import Datagram
from pyrama_udp._relay import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_SESSIONS,
    RelayReply,
    RelayRoute,
    UdpRelay,
)
from pyrama_udp._server import DEFAULT_CONCURRENCY, UdpServer, serve_datagrams
from pyrama_udp._socket import DEFAULT_QUEUE_SIZE, OverflowPolicy, UdpSocket

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_QUEUE_SIZE",
    "AddrLike",
    "Datagram",
    "OverflowPolicy",
    "RelayReply",
    "RelayRoute",
    "UdpRelay",
    "UdpServer",
    "UdpSocket",
    "serve_datagrams",
]

__version__ = "0.1.0"
