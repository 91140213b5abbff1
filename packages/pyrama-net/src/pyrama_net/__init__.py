"""pyrama-net: addresses, streams, relays, DNS, connectors and connection pools."""

from pyrama_net._socket_stream import (
    SocketInfo,
    SocketStream,
    SocketStreamProtocol,
    open_socket_stream,
)
from pyrama_net._stream import DetachableStream, Stream

__all__ = [
    "DetachableStream",
    "SocketInfo",
    "SocketStream",
    "SocketStreamProtocol",
    "Stream",
    "open_socket_stream",
]

__version__ = "0.1.0"
