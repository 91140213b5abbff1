"""TlsConnectorLayer and tls_connect: the client side of TLS over any stream."""

from __future__ import annotations

import functools
import ipaddress
from collections import OrderedDict
from typing import Any, Generic, TypeVar

from OpenSSL import SSL

from pyrama_core import Service
from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger
from pyrama_net import EstablishedConnection, Stream, target_host_port
from pyrama_net.errors import ConnectError
from pyrama_tls._config import TlsConnectorData
from pyrama_tls._contexts import (
    base_context,
    load_ca_certificates,
    load_system_trust,
    set_peer_verification,
)
from pyrama_tls._hostname import certificate_matches_host
from pyrama_tls._openssl_ext import set_verify_host
from pyrama_tls._pinning import check_pins
from pyrama_tls._tls_stream import TlsStream, close_quietly
from pyrama_tls._trust import VerifyPaths
from pyrama_tls.errors import CertificateVerifyError

__all__ = ["TlsConnector", "TlsConnectorLayer", "TlsConnectorService", "tls_connect"]

TargetT = TypeVar("TargetT")

_log = get_logger(__name__)

_X509_V_ERR_HOSTNAME_MISMATCH = 62
_X509_V_ERR_IP_ADDRESS_MISMATCH = 64


def _verify_name(name: str) -> str:
    """The form of *name* OpenSSL's host check and ours compare: bare IP or A-label name."""
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    bare = bare.rstrip(".").lower()
    if not bare.isascii():
        bare = bare.encode("idna").decode("ascii")
    return bare


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class TlsConnector:
    """The client side of TLS, built once from a :class:`TlsConnectorData`.

    It owns the pyOpenSSL context (trust store loaded once) and the session cache, and turns
    connected streams into verified :class:`~pyrama_tls.TlsStream` objects with
    :meth:`connect`. :class:`TlsConnectorService` and :func:`tls_connect` use it.
    """

    __slots__ = ("_ctx", "_data", "_sessions", "verify_paths")

    def __init__(self, data: TlsConnectorData) -> None:
        self._data = data
        ctx = base_context(SSL.TLS_CLIENT_METHOD, data, side="client")
        if data.alpn:
            ctx.set_alpn_protos(list(data.alpn))
        self.verify_paths: VerifyPaths | None = None
        """The system (or certifi) store loaded, ``None`` when not used."""
        if data.insecure:
            ctx.set_verify(SSL.VERIFY_NONE)
            _log.warning(
                "tls certificate verification is disabled (insecure=True)",
                pinned=bool(data.pins),
            )
        else:
            set_peer_verification(ctx, required=True)
            if data.trusts_system_store:
                self.verify_paths = load_system_trust(ctx)
            if data.ca_certificates or data.ca_file is not None:
                load_ca_certificates(ctx, data.ca_certificates, data.ca_file)
        if data.client_certificate is not None:
            data.client_certificate.use_in_context(ctx)
        self._ctx = ctx
        self._sessions: OrderedDict[tuple[str | None, int | None], SSL.Session] | None = (
            OrderedDict() if data.session_resumption else None
        )

    @property
    def data(self) -> TlsConnectorData:
        """The configuration."""
        return self._data

    @property
    def context(self) -> SSL.Context:
        """The pyOpenSSL context every connection is made from."""
        return self._ctx

    def cached_sessions(self) -> int:
        """How many resumable sessions are cached."""
        return 0 if self._sessions is None else len(self._sessions)

    def _remember(self, key: tuple[str | None, int | None], session: SSL.Session) -> None:
        sessions = self._sessions
        if sessions is None:
            return
        sessions[key] = session
        sessions.move_to_end(key)
        while len(sessions) > self._data.max_sessions:
            sessions.popitem(last=False)

    async def connect(
        self, stream: Stream, server_name: str | None = None, *, port: int | None = None
    ) -> TlsStream:
        """Handshake as a client over *stream*; return the verified TLS stream.

        *server_name* (overridden by the configured ``server_name``) is sent as SNI unless it
        is an IP literal, and the certificate must be valid for it. *port* only keys the
        session cache. On any failure *stream* is closed and the error raised:
        :class:`~pyrama_tls.errors.CertificateVerifyError` (untrusted, wrong name),
        :class:`~pyrama_tls.errors.PinMismatchError`,
        :class:`~pyrama_tls.errors.TlsHandshakeError`.
        """
        data = self._data
        name = data.server_name or server_name
        if name is None and not data.insecure:
            await close_quietly(stream)
            raise ConfigError(
                "a TLS client that verifies certificates needs the server's name "
                "(pass server_name, or insecure=True with pins)"
            )
        verify_name = _verify_name(name) if name is not None else None
        conn = SSL.Connection(self._ctx, None)
        if verify_name is not None and not data.insecure:
            set_verify_host(conn, verify_name)
        key = (verify_name, port)
        sessions = self._sessions
        if sessions is not None:
            session = sessions.get(key)
            if session is not None:
                conn.set_session(session)
        tls = TlsStream(stream, conn, role="client", server_name=verify_name)
        if sessions is not None:
            tls._set_session_sink(functools.partial(self._remember, key))
        try:
            negotiated = await tls.handshake(data.handshake_timeout)
            leaf = negotiated.peer_certificate
            if not data.insecure:
                assert verify_name is not None
                if leaf is None or not certificate_matches_host(leaf, verify_name):
                    is_ip = _is_ip(verify_name)
                    raise CertificateVerifyError(
                        f"TLS handshake (client) failed: the server's certificate is not "
                        f"valid for {verify_name!r}",
                        role="client",
                        reason="hostname mismatch",
                        verify_code=_X509_V_ERR_IP_ADDRESS_MISMATCH
                        if is_ip
                        else _X509_V_ERR_HOSTNAME_MISMATCH,
                        depth=0,
                    )
            if data.pins:
                if leaf is None:
                    raise CertificateVerifyError(
                        "TLS handshake (client) failed: the server presented no certificate "
                        "to check the pins against",
                        role="client",
                        reason="no peer certificate",
                    )
                check_pins(leaf, data.pins)
        except BaseException:
            if sessions is not None:
                sessions.pop(key, None)
                tls._set_session_sink(_drop_session)
            await close_quietly(tls)
            raise
        return tls

    def __repr__(self) -> str:
        return f"TlsConnector(insecure={self._data.insecure}, system_trust={self.verify_paths!r})"


def _drop_session(session: SSL.Session) -> None:
    """A session sink that keeps nothing (for connections that failed verification)."""


def _connector_for(data: TlsConnectorData) -> TlsConnector:
    cached = data._cache.get("connector")
    if isinstance(cached, TlsConnector):
        return cached
    built = TlsConnector(data)
    data._cache["connector"] = built
    return built


_default_data: TlsConnectorData | None = None


async def tls_connect(
    stream: Stream,
    server_name: str | None = None,
    data: TlsConnectorData | None = None,
    *,
    port: int | None = None,
) -> TlsStream:
    """Run a TLS client handshake over any *stream* (TCP, a SOCKS5 or CONNECT tunnel, TLS...).

    *data* defaults to ``TlsConnectorData()``: verification against the system trust store.
    The context built for a *data* object is cached on it, so reuse the object (its session
    cache lives there too). On failure *stream* is closed. See :meth:`TlsConnector.connect`.
    """
    global _default_data
    if data is None:
        if _default_data is None:
            _default_data = TlsConnectorData()
        data = _default_data
    return await _connector_for(data).connect(stream, server_name, port=port)


class TlsConnectorService(Generic[TargetT]):
    """The connector :class:`TlsConnectorLayer` makes: connect with *inner*, then handshake.

    It returns an :class:`~pyrama_net.EstablishedConnection` whose ``conn`` is the
    :class:`~pyrama_tls.TlsStream`, ``target`` the target and ``extensions`` the TLS stream's
    (a fork of the transport's, plus :class:`~pyrama_tls.NegotiatedTls`). The server name is
    the configured ``server_name`` or the target's host; the session cache key is
    (name, port).
    """

    __slots__ = ("_tls", "inner")

    def __init__(
        self,
        inner: Service[TargetT, EstablishedConnection[TargetT, Any]],
        connector: TlsConnector,
    ) -> None:
        self.inner = inner
        self._tls = connector

    @property
    def connector(self) -> TlsConnector:
        """The TLS client (context, session cache)."""
        return self._tls

    async def serve(self, target: TargetT, /) -> EstablishedConnection[TargetT, TlsStream]:
        """Connect to *target* through the inner connector and handshake TLS over it."""
        est = await self.inner.serve(target)
        name: str | None = None
        port: int | None = None
        try:
            name, port = target_host_port(est.target)  # type: ignore[arg-type]
        except (ConnectError, AttributeError, TypeError):
            if self._tls.data.server_name is None:
                await close_quietly(est.conn)
                raise ConfigError(
                    f"cannot tell the TLS server name from target {est.target!r}; "
                    "set TlsConnectorData(server_name=...)"
                ) from None
        tls = await self._tls.connect(est.conn, name, port=port)
        return EstablishedConnection(conn=tls, target=est.target, extensions=tls.extensions)

    def __repr__(self) -> str:
        return f"TlsConnectorService({self.inner!r})"


class TlsConnectorLayer:
    """Layer that adds TLS to a stream connector.

    ``TlsConnectorLayer(TlsConnectorData(alpn=["h2"])).layer(TcpConnector())`` is a
    connector returning :class:`~pyrama_tls.TlsStream` connections. The client context and
    session cache are built once per :meth:`layer` call.
    """

    __slots__ = ("data",)

    def __init__(self, data: TlsConnectorData | None = None) -> None:
        """Configure the layer; *data* defaults to ``TlsConnectorData()`` (verify, no ALPN)."""
        if data is not None and not isinstance(data, TlsConnectorData):
            raise TypeError(f"TlsConnectorLayer needs TlsConnectorData, got {type(data).__name__}")
        self.data = data if data is not None else TlsConnectorData()

    def layer(
        self, inner: Service[TargetT, EstablishedConnection[TargetT, Any]], /
    ) -> TlsConnectorService[TargetT]:
        """Wrap the connector *inner*."""
        return TlsConnectorService(inner, TlsConnector(self.data))

    def __repr__(self) -> str:
        return f"TlsConnectorLayer(insecure={self.data.insecure})"
