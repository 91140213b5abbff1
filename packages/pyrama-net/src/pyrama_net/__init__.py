"""pyrama-net: addresses, streams, relays, DNS, connectors and connection pools."""

from pyrama_net._authority import Authority
from pyrama_net._bind_address import AddrLike, coerce_address, to_bind_address
from pyrama_net._bridge import BridgeError, BridgeIdleTimeoutError, BridgeStats, bridge
from pyrama_net._bytes_tracker import (
    BytesCount,
    BytesTrackerLayer,
    BytesTrackerService,
    BytesTrackerStream,
)
from pyrama_net._connector import (
    ConnectAttempt,
    ConnectAttemptsError,
    Connector,
    ConnectTarget,
    ConnectTimeoutError,
    EstablishedConnection,
    HostPortTarget,
    TaskDeadline,
    target_host_port,
)
from pyrama_net._credentials import Basic, Bearer
from pyrama_net._detach import (
    DetachedIoCallback,
    DetachedSocket,
    detach_socket_observed,
    observe_detached_io,
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
from pyrama_net._domain import Domain
from pyrama_net._forwarded import (
    ClientIp,
    Forwarded,
    ForwardedElement,
    ForwardedNode,
    IpNetworks,
    parse_forwarded,
    parse_x_forwarded_for,
    resolve_client_ip,
)
from pyrama_net._happy_eyeballs import IpMode, happy_eyeballs_connect
from pyrama_net._host import Host, IpAddress
from pyrama_net._io import BufferedStream, read_exact, read_until
from pyrama_net._peek import PeekStream, peek, rewind
from pyrama_net._pool import ConnectionPool, PoolLease, PoolStats
from pyrama_net._protocol import Protocol
from pyrama_net._proxy_address import ProxyAddress
from pyrama_net._socket_address import SocketAddress
from pyrama_net._socket_stream import (
    SocketInfo,
    SocketStream,
    SocketStreamProtocol,
    open_socket_stream,
)
from pyrama_net._stream import DetachableStream, PushStream, Stream
from pyrama_net._throttle import ThrottledStream, ThrottleLayer, ThrottleService
from pyrama_net._transport_metrics import (
    TransportMetricsLayer,
    TransportMetricsService,
    TransportMetricsStream,
)
from pyrama_net._wrapper import StreamWrapper

__all__ = [
    "AddrLike",
    "Authority",
    "Basic",
    "Bearer",
    "BridgeError",
    "BridgeIdleTimeoutError",
    "BridgeStats",
    "BufferedStream",
    "BytesCount",
    "BytesTrackerLayer",
    "BytesTrackerService",
    "BytesTrackerStream",
    "ChainResolver",
    "ClientIp",
    "ConnectAttempt",
    "ConnectAttemptsError",
    "ConnectTarget",
    "ConnectTimeoutError",
    "ConnectionPool",
    "Connector",
    "DenyAllResolver",
    "DetachableStream",
    "DetachedIoCallback",
    "DetachedSocket",
    "DnsNoRecordsError",
    "DnsOverrides",
    "DnsResolver",
    "DnsTimeoutError",
    "DnspythonResolver",
    "Domain",
    "EstablishedConnection",
    "Forwarded",
    "ForwardedElement",
    "ForwardedNode",
    "Host",
    "HostPortTarget",
    "IpAddress",
    "IpMode",
    "IpNetworks",
    "PeekStream",
    "PoolLease",
    "PoolStats",
    "Protocol",
    "ProxyAddress",
    "PushStream",
    "SocketAddress",
    "SocketInfo",
    "SocketStream",
    "SocketStreamProtocol",
    "StaticResolver",
    "Stream",
    "StreamWrapper",
    "SystemResolver",
    "TaskDeadline",
    "ThrottleLayer",
    "ThrottleService",
    "ThrottledStream",
    "TransportMetricsLayer",
    "TransportMetricsService",
    "TransportMetricsStream",
    "bridge",
    "coerce_address",
    "detach_socket_observed",
    "happy_eyeballs_connect",
    "ip_literal",
    "observe_detached_io",
    "open_socket_stream",
    "parse_forwarded",
    "parse_x_forwarded_for",
    "peek",
    "read_exact",
    "read_until",
    "resolve_client_ip",
    "rewind",
    "target_host_port",
    "to_bind_address",
]

__version__ = "0.1.0"
