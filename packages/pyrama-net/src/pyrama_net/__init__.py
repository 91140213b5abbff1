"""pyrama-net: addresses, streams, relays, DNS, connectors and connection pools."""

from pyrama_net._dns import (
    ChainResolver,
    DenyAllResolver,
    DnsNoRecordsError,
    DnsOverrides,
    DnsResolver,
    DnsTimeoutError,
    StaticResolver,
    SystemResolver,
    ip_literal,
)
from pyrama_net._dns_dnspython import DnspythonResolver
from pyrama_net._socket_stream import (
    SocketInfo,
    SocketStream,
    SocketStreamProtocol,
    open_socket_stream,
)
from pyrama_net._stream import DetachableStream, Stream

__all__ = [
    "ChainResolver",
    "DenyAllResolver",
    "DetachableStream",
    "DnsNoRecordsError",
    "DnsOverrides",
    "DnsResolver",
    "DnsTimeoutError",
    "DnspythonResolver",
    "SocketInfo",
    "SocketStream",
    "SocketStreamProtocol",
    "StaticResolver",
    "Stream",
    "SystemResolver",
    "ip_literal",
    "open_socket_stream",
]

__version__ = "0.1.0"
