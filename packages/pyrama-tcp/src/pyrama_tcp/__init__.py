"""pyrama-tcp: TCP listeners and streams; Unix domain sockets live in ``pyrama_tcp.unix``."""

from pyrama_net import AddrLike
from pyrama_tcp._connector import TcpConnector
from pyrama_tcp._listener import DEFAULT_BACKLOG, TcpListener
from pyrama_tcp._socket_options import TcpSocketOptions
from pyrama_tcp._stream import TcpStream

__all__ = [
    "DEFAULT_BACKLOG",
    "AddrLike",
    "TcpConnector",
    "TcpListener",
    "TcpSocketOptions",
    "TcpStream",
]

__version__ = "0.1.0"
