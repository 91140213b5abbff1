"""pyrama-net: addresses, streams, relays, DNS, connectors and connection pools."""

from pyrama_net._connector import (
    ConnectAttempt,
    ConnectAttemptsError,
    Connector,
    ConnectTarget,
    ConnectTimeoutError,
    EstablishedConnection,
    HostPortTarget,
    target_host_port,
)
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
from pyrama_net._happy_eyeballs import IpMode, happy_eyeballs_connect
from pyrama_net._socket_stream import (
    SocketInfo,
    SocketStream,
    SocketStreamProtocol,
    open_socket_stream,
)
from pyrama_net._stream import DetachableStream, Stream

__all__ = [
    "ChainResolver",
    "ConnectAttempt",
    "ConnectAttemptsError",
    "ConnectTarget",
    "ConnectTimeoutError",
    "Connector",
    "DenyAllResolver",
    "DetachableStream",
    "DnsNoRecordsError",
    "DnsOverrides",
    "DnsResolver",
    "DnsTimeoutError",
    "DnspythonResolver",
    "EstablishedConnection",
    "HostPortTarget",
    "IpMode",
    "SocketInfo",
    "SocketStream",
    "SocketStreamProtocol",
    "StaticResolver",
    "Stream",
    "SystemResolver",
    "happy_eyeballs_connect",
    "ip_literal",
    "open_socket_stream",
    "target_host_port",
]

__version__ = "0.1.0"
