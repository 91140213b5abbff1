"""HttpConnector: transport, then TLS for https, then the HTTP/1.1 or HTTP/2 driver."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, TypeAlias

from pyrama_core import Extensions, Service
from pyrama_core.errors import ConfigError
from pyrama_http._target import HttpConnectTarget, WireMode
from pyrama_http.errors import ProtocolNegotiationError
from pyrama_http_core import (
    H2ClientConfig,
    H2ClientConnection,
    Http1ClientConfig,
    Http1ClientConnection,
)
from pyrama_net import EstablishedConnection, Stream
from pyrama_tcp import TcpConnector
from pyrama_tls import NegotiatedTls, TlsConnectorData, TlsConnectorLayer

__all__ = ["ClientConnection", "HttpConnector", "StreamConnector"]

ClientConnection: TypeAlias = Http1ClientConnection | H2ClientConnection
"""An HTTP client connection: the HTTP/1.1 or the HTTP/2 driver."""

StreamConnector: TypeAlias = Service[HttpConnectTarget, EstablishedConnection[Any, Any]]
"""A connector from an :class:`HttpConnectTarget` to a byte stream (TCP, a proxy tunnel...).

Its :class:`~pyrama_net.EstablishedConnection` holds a :class:`~pyrama_net.Stream`."""

_ALPN: dict[WireMode, tuple[bytes, ...]] = {
    WireMode.HTTP1: (b"http/1.1",),
    WireMode.H2: (b"h2",),
    WireMode.NEGOTIATE: (b"h2", b"http/1.1"),
}


class HttpConnector:
    """A connector from an :class:`HttpConnectTarget` to a ready HTTP client connection.

    The chain: *transport* (default :class:`~pyrama_tcp.TcpConnector`) opens a stream to the
    target; for ``https`` a :class:`~pyrama_tls.TlsConnectorLayer` handshakes over it, offering
    ALPN by the target's :class:`WireMode` (``h2`` + ``http/1.1``, only one of them) unless
    *tls* names its own protocols; then the ALPN result (or, for plain HTTP, the mode: h2c
    with prior knowledge or HTTP/1.1) picks :class:`~pyrama_http_core.H2ClientConnection` or
    :class:`~pyrama_http_core.Http1ClientConnection`. HTTP/2 connections are started (preface
    and SETTINGS sent) before they are returned; HTTP/1.1 ones hand over a response body that
    arrived complete with its head in memory (``take_arrived_bodies``), so the pool gets the
    connection back at once.

    *transport* is the seam for proxies and other tunnels: any
    ``Service[HttpConnectTarget, EstablishedConnection[Any, Stream]]`` works (a proxy
    connector opens the tunnel and returns its stream). *tls* defaults to
    ``TlsConnectorData()``: certificates verified against the system trust store.

    The result is an :class:`~pyrama_net.EstablishedConnection` whose ``conn`` is the driver
    and whose ``extensions`` are the stream's (``SocketInfo``, ``NegotiatedTls``...).
    """

    __slots__ = ("_h1_config", "_h2_config", "_tls", "_tls_data", "transport")

    def __init__(
        self,
        transport: StreamConnector | None = None,
        *,
        tls: TlsConnectorData | None = None,
        http1_config: Http1ClientConfig | None = None,
        h2_config: H2ClientConfig | None = None,
    ) -> None:
        """Build the chain (see the class docs); TLS contexts are made on first use."""
        if tls is not None and not isinstance(tls, TlsConnectorData):
            raise ConfigError(f"tls must be TlsConnectorData, got {tls!r}")
        self.transport: StreamConnector = TcpConnector() if transport is None else transport
        """The stream connector under TLS."""
        self._tls_data = TlsConnectorData() if tls is None else tls
        self._h1_config = http1_config
        self._h2_config = h2_config
        self._tls: dict[WireMode, StreamConnector] = {}

    @property
    def tls_data(self) -> TlsConnectorData:
        """The TLS client settings (ALPN filled in per connection when they name none)."""
        return self._tls_data

    def _tls_chain(self, mode: WireMode) -> StreamConnector:
        chain = self._tls.get(mode)
        if chain is None:
            data = self._tls_data
            if not data.alpn:
                data = dataclasses.replace(data, alpn=_ALPN[mode])
            chain = TlsConnectorLayer(data).layer(self.transport)
            self._tls[mode] = chain
        return chain

    async def serve(
        self, target: HttpConnectTarget, /
    ) -> EstablishedConnection[HttpConnectTarget, ClientConnection]:
        """Connect to *target* and return the HTTP connection for it."""
        secure = target.secure
        chain = self._tls_chain(target.mode) if secure else self.transport
        est = await chain.serve(target)
        stream: Stream = est.conn
        ext: Extensions = est.extensions
        use_h2 = target.mode is WireMode.H2
        if secure:
            negotiated = ext.get(NegotiatedTls)
            alpn = None if negotiated is None else negotiated.alpn
            use_h2 = alpn == "h2"
            if not use_h2 and target.mode is WireMode.H2:
                await _close_quietly(stream)
                raise ProtocolNegotiationError(
                    f"{target.authority} did not agree to HTTP/2 over TLS "
                    f"(ALPN result: {alpn or 'none'})"
                )
        conn: ClientConnection
        if use_h2:
            h2 = H2ClientConnection(stream, self._h2_config, default_scheme=target.scheme)
            try:
                await h2.start()
            except BaseException:
                await h2.close()
                raise
            conn = h2
        else:
            conn = Http1ClientConnection(stream, self._h1_config, take_arrived_bodies=True)
        return EstablishedConnection(conn=conn, target=target, extensions=ext)

    def __repr__(self) -> str:
        return f"HttpConnector(transport={self.transport!r})"


async def _close_quietly(stream: Stream) -> None:
    with contextlib.suppress(Exception):
        await stream.close()
