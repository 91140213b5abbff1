"""Client side: write a PROXY protocol header first on every freshly connected stream."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from ipaddress import IPv6Address
from typing import Generic, TypeVar

from pyrama_core import Service
from pyrama_core.errors import ConfigError, Side
from pyrama_haproxy._header import (
    Address,
    ProxyCommand,
    ProxyHeader,
    ProxyTransport,
    ProxyVersion,
    Tlv,
)
from pyrama_haproxy.errors import ProxyHeaderError
from pyrama_net import EstablishedConnection, SocketAddress, SocketInfo, Stream

__all__ = [
    "HaProxyClientLayer",
    "HaProxyClientService",
    "header_for_stream",
    "write_proxy_header",
]

TargetT = TypeVar("TargetT")
StreamT = TypeVar("StreamT", bound=Stream)

HeaderFn = Callable[[object, Stream], ProxyHeader]
"""``(target, stream) -> ProxyHeader``: builds the header for one new connection."""


def _address(raw: object) -> Address | None:
    """A header address from a socket address as the OS reports it, or None."""
    if isinstance(raw, str | bytes):
        path = os.fsencode(raw)
        return path if len(path) <= 108 and not path.endswith(b"\x00") else None
    if isinstance(raw, tuple) and len(raw) >= 2:
        try:
            addr = SocketAddress.from_tuple(raw[:2])
        except Exception:
            return None
        if isinstance(addr.ip, IPv6Address) and addr.ip.scope_id is not None:
            addr = SocketAddress(IPv6Address(str(addr.ip).split("%", 1)[0]), addr.port)
        return addr
    return None


def header_for_stream(
    stream: Stream,
    *,
    version: ProxyVersion = ProxyVersion.V2,
    tlvs: Sequence[Tlv] = (),
    source: Address | None = None,
    destination: Address | None = None,
    transport: ProxyTransport = ProxyTransport.STREAM,
) -> ProxyHeader:
    """The header a client sends on *stream*: explicit addresses, else the stream's own.

    Without *source* the stream's local address is the source; without *destination* its peer
    address is the destination (both from its :class:`~pyrama_net.SocketInfo`). When the
    addresses cannot be expressed (no ``SocketInfo``, a Unix socket on v1), a v1 header says
    ``UNKNOWN`` and a v2 header ``AF_UNSPEC``; *tlvs* are v2 only.
    """
    info = stream.extensions.get(SocketInfo)
    if source is None and info is not None:
        source = _address(info.local)
    if destination is None and info is not None:
        destination = _address(info.peer)
    usable = source is not None and destination is not None
    if usable and isinstance(source, bytes) and version is ProxyVersion.V1:
        usable = False
    if usable and isinstance(source, SocketAddress) and isinstance(destination, SocketAddress):
        usable = source.is_ipv4 == destination.is_ipv4
    if not usable:
        return ProxyHeader(version=version, tlvs=tuple(tlvs))
    return ProxyHeader(
        version=version,
        command=ProxyCommand.PROXY,
        source=source,
        destination=destination,
        transport=transport,
        tlvs=tuple(tlvs),
    )


async def write_proxy_header(stream: Stream, header: ProxyHeader) -> None:
    """Write *header* to *stream* and wait until it is handed to the transport."""
    stream.write(header.encode())
    await stream.drain()


class HaProxyClientService(Generic[TargetT, StreamT]):
    """The connector made by :class:`HaProxyClientLayer`: connects, then sends the header."""

    __slots__ = ("destination", "header_fn", "inner", "source", "tlvs", "transport", "version")

    def __init__(
        self,
        inner: Service[TargetT, EstablishedConnection[TargetT, StreamT]],
        *,
        version: ProxyVersion = ProxyVersion.V2,
        tlvs: Sequence[Tlv] = (),
        source: Address | None = None,
        destination: Address | None = None,
        transport: ProxyTransport = ProxyTransport.STREAM,
        header_fn: HeaderFn | None = None,
    ) -> None:
        if not isinstance(version, ProxyVersion):
            raise ConfigError(f"version must be a ProxyVersion, got {version!r}")
        if version is ProxyVersion.V1 and tlvs:
            raise ConfigError("v1 headers carry no TLVs")
        self.inner = inner
        self.version = version
        self.tlvs = tuple(tlvs)
        self.source = source
        self.destination = destination
        self.transport = transport
        self.header_fn = header_fn

    def header(self, target: TargetT, stream: Stream) -> ProxyHeader:
        """The header for a new connection to *target* over *stream*."""
        if self.header_fn is not None:
            return self.header_fn(target, stream)
        return header_for_stream(
            stream,
            version=self.version,
            tlvs=self.tlvs,
            source=self.source,
            destination=self.destination,
            transport=self.transport,
        )

    async def serve(self, target: TargetT, /) -> EstablishedConnection[TargetT, StreamT]:
        """Connect to *target* with the inner connector and write the header first.

        The connection is closed when the header cannot be built or written; building errors
        are :class:`~pyrama_haproxy.errors.ProxyHeaderError` (our side, ``Side.LOCAL``).
        """
        established = await self.inner.serve(target)
        stream = established.conn
        try:
            try:
                header = self.header(target, stream)
            except ConfigError as exc:
                raise ProxyHeaderError(
                    f"cannot build the PROXY header: {exc}", side=Side.LOCAL
                ) from exc
            await write_proxy_header(stream, header)
        except BaseException:
            await stream.close()
            raise
        return established

    def __repr__(self) -> str:
        return f"HaProxyClientService({self.inner!r}, version={self.version.name})"


class HaProxyClientLayer:
    """Layer over a connector that sends a PROXY protocol header on each new connection.

    Put it right above the transport connector (``TcpConnector``, a Unix connector), below
    TLS or HTTP: ``HaProxyClientLayer().layer(TcpConnector())``. *version* picks v1 (text) or
    v2 (binary, default); *tlvs* go into v2 headers (a :meth:`Tlv.crc32c` makes it
    checksummed). The addresses are *source* / *destination* when given, else the new
    stream's local / peer address (see :func:`header_for_stream`). *header_fn* replaces all of
    that: ``header_fn(target, stream)`` returns the header to send (for a proxy that relays
    the address of its own client).
    """

    __slots__ = ("destination", "header_fn", "source", "tlvs", "transport", "version")

    def __init__(
        self,
        version: ProxyVersion = ProxyVersion.V2,
        *,
        tlvs: Sequence[Tlv] = (),
        source: Address | None = None,
        destination: Address | None = None,
        transport: ProxyTransport = ProxyTransport.STREAM,
        header_fn: HeaderFn | None = None,
    ) -> None:
        if not isinstance(version, ProxyVersion):
            raise ConfigError(f"version must be a ProxyVersion, got {version!r}")
        if version is ProxyVersion.V1 and tlvs:
            raise ConfigError("v1 headers carry no TLVs")
        self.version = version
        self.tlvs = tuple(tlvs)
        self.source = source
        self.destination = destination
        self.transport = transport
        self.header_fn = header_fn

    def layer(
        self, inner: Service[TargetT, EstablishedConnection[TargetT, StreamT]], /
    ) -> HaProxyClientService[TargetT, StreamT]:
        """Wrap the connector *inner*."""
        return HaProxyClientService(
            inner,
            version=self.version,
            tlvs=self.tlvs,
            source=self.source,
            destination=self.destination,
            transport=self.transport,
            header_fn=self.header_fn,
        )

    def __repr__(self) -> str:
        return f"HaProxyClientLayer(version={self.version.name}, tlvs={len(self.tlvs)})"
