"""pyrama-net: addresses, streams, relays, DNS, connectors and connection pools."""

from pyrama_net._authority import Authority
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
from pyrama_net._credentials import Basic, Bearer
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
from pyrama_net._domain import Domain
from pyrama_net._happy_eyeballs import IpMode, happy_eyeballs_connect
from pyrama_net._host import Host, IpAddress
from pyrama_net._protocol import Protocol
from pyrama_net._proxy_address import ProxyAddress
from pyrama_net._socket_address import SocketAddress
from pyrama_net._socket_stream import (
    SocketInfo,
    SocketStream,
    SocketStreamProtocol,
    open_socket_stream,
)
from pyrama_net._stream import DetachableStream, Stream

__all__ = [
    "Authority",
    "Basic",
    "Bearer",
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
    "Domain",
    "EstablishedConnection",
    "Host",
    "HostPortTarget",
    "IpAddress",
    "IpMode",
    "Protocol",
    "ProxyAddress",
    "SocketAddress",
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
