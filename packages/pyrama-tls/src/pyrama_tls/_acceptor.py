"""TlsAcceptorLayer: terminate TLS on every stream before the inner service sees it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from typing import Any, Generic, TypeVar

from OpenSSL import SSL

from pyrama_core import Service
from pyrama_core.errors import PyramaTimeoutError, Side
from pyrama_core.telemetry import get_logger
from pyrama_net import SocketInfo, Stream
from pyrama_tls._certified_key import CertifiedKey
from pyrama_tls._client_hello import ClientHello
from pyrama_tls._config import ClientAuth, TlsAcceptorData
from pyrama_tls._contexts import (
    base_context,
    load_ca_certificates,
    set_peer_verification,
)
from pyrama_tls._openssl_ext import (
    SSL_AD_INTERNAL_ERROR,
    SSL_AD_MISSING_EXTENSION,
    SSL_AD_UNRECOGNIZED_NAME,
    set_servername_callback,
)
from pyrama_tls._peek_client_hello import peek_client_hello
from pyrama_tls._tls_stream import TlsStream, close_quietly
from pyrama_tls.errors import (
    CertificateNameError,
    ClientHelloError,
    TlsHandshakeError,
    TlsHandshakeTimeoutError,
)

__all__ = ["TlsAcceptor", "TlsAcceptorLayer", "TlsAcceptorService"]

T = TypeVar("T")

_log = get_logger(__name__)

_SESSION_ID_CONTEXT = b"pyrama-tls"


class _AlpnMismatchError(TlsHandshakeError):
    """Raised from the ALPN callback in strict mode (pyOpenSSL re-raises it from the handshake)."""


def _alpn_selector(prefs: tuple[bytes, ...], strict: bool) -> Any:
    def select(conn: SSL.Connection, offered: list[bytes]) -> bytes | object:
        for proto in prefs:
            if proto in offered:
                return proto
        if strict:
            shown = ", ".join(p.decode("latin-1") for p in offered)
            raise _AlpnMismatchError(
                f"TLS handshake (server) failed: no application protocol in common "
                f"(client offered {shown})",
                role="server",
                side=Side.LOCAL,
                reason="no application protocol",
            )
        return SSL.NO_OVERLAPPING_PROTOCOLS

    return select


def _refusal_alert(exc: BaseException) -> int:
    """The TLS alert that tells a client why the issuer gave no certificate for its name."""
    if isinstance(exc, CertificateNameError):
        return SSL_AD_UNRECOGNIZED_NAME
    return SSL_AD_INTERNAL_ERROR


class TlsAcceptor:
    """The server side of TLS, built once from a :class:`TlsAcceptorData`.

    It owns the pyOpenSSL contexts (one per certificate: a single one, or one per certificate
    the issuer returns, kept in a bounded LRU) and turns accepted streams into
    :class:`~pyrama_tls.TlsStream` objects with :meth:`accept`. :class:`TlsAcceptorService`
    uses it; use it directly to terminate TLS on a stream you got some other way.

    Nothing is built per connection but the ``SSL.Connection``: contexts (certificate, key,
    settings) are made once, per issuer certificate at most.

    With an issuer, a name it refuses ends that handshake with a fatal TLS alert:
    ``unrecognized_name`` when it raised :class:`~pyrama_tls.errors.CertificateNameError`,
    else ``internal_error``; a client without SNI, when no ``certified_key`` serves such
    clients, gets ``missing_extension`` (RFC 8446 section 9.2).
    """

    __slots__ = ("_by_key", "_data", "_default", "_sni_callback")

    def __init__(self, data: TlsAcceptorData) -> None:
        self._data = data
        self._by_key: OrderedDict[CertifiedKey, SSL.Context] = OrderedDict()
        self._sni_callback: Any = None
        # the context every handshake starts with: the fixed certificate (if any), and with an
        # issuer the SNI callback that switches to the name's context
        self._default = self._build_context(data.certified_key, sni_switch=data.issuer is not None)

    @property
    def data(self) -> TlsAcceptorData:
        """The configuration."""
        return self._data

    def cached_contexts(self) -> int:
        """How many per-certificate contexts (issuer certificates) are cached."""
        return len(self._by_key)

    def _build_context(self, key: CertifiedKey | None, *, sni_switch: bool) -> SSL.Context:
        data = self._data
        ctx = base_context(SSL.TLS_SERVER_METHOD, data, side="server")
        ctx.set_session_id(_SESSION_ID_CONTEXT)
        if key is not None:
            key.use_in_context(ctx)
        if data.alpn:
            ctx.set_alpn_select_callback(_alpn_selector(data.alpn, data.alpn_strict))
        if data.client_auth is not ClientAuth.NONE:
            set_peer_verification(ctx, required=data.client_auth is ClientAuth.REQUIRED)
            load_ca_certificates(ctx, data.client_ca, data.client_ca_file, advertise=True)
        if sni_switch:
            # kept referenced: the cffi callback must live as long as the context
            self._sni_callback = set_servername_callback(ctx, self._on_server_name)
            if self._sni_callback is None:  # pragma: no cover - bindings without the symbols
                ctx.set_tlsext_servername_callback(self._on_server_name_legacy)
        return ctx

    def _context_for_key(self, key: CertifiedKey) -> SSL.Context:
        cache = self._by_key
        ctx = cache.get(key)
        if ctx is not None:
            cache.move_to_end(key)
            return ctx
        ctx = self._build_context(key, sni_switch=False)
        cache[key] = ctx
        if len(cache) > self._data.max_cached_contexts:
            cache.popitem(last=False)
        return ctx

    def context_for(self, server_name: str | None) -> SSL.Context:
        """The context that serves *server_name* (blocking: may ask the issuer to mint)."""
        issuer = self._data.issuer
        if issuer is None or server_name is None:
            return self._default
        return self._context_for_key(issuer.certified_key_for(server_name))

    async def context_for_async(self, server_name: str | None) -> SSL.Context:
        """Like :meth:`context_for`, through the issuer's async ``get`` when it has one."""
        issuer = self._data.issuer
        if issuer is None or server_name is None:
            return self._default
        get: Any = getattr(issuer, "get", None)
        if callable(get):
            key = await get(server_name)
            if isinstance(key, CertifiedKey):
                return self._context_for_key(key)
        return self.context_for(server_name)

    def _on_server_name(self, conn: SSL.Connection) -> int | None:
        """The SNI callback: switch to the name's context, or refuse with an alert number."""
        # runs inside the handshake; with a peeked ClientHello the context is chosen already
        if conn.get_context() is not self._default:
            return None
        stream = conn.get_app_data()
        tls = stream if isinstance(stream, TlsStream) else None
        if tls is not None and tls._callback_error is not None:
            # the issuer refused the peeked name already: refuse the client with the alert
            return _refusal_alert(tls._callback_error)
        raw = conn.get_servername()
        if not raw:
            # no SNI: the default context serves it, if it has a certificate
            if self._data.certified_key is not None:
                return None
            if tls is not None:
                tls._callback_error = LookupError(
                    "the client sent no SNI and no certified_key is configured for that"
                )
            return SSL_AD_MISSING_EXTENSION
        try:
            conn.set_context(self.context_for(raw.decode("ascii", "replace")))
        except Exception as exc:
            if tls is not None:
                tls._callback_error = exc  # kept for the handshake error
            return _refusal_alert(exc)
        return None

    def _on_server_name_legacy(self, conn: SSL.Connection) -> None:  # pragma: no cover
        # pyOpenSSL's own callback can refuse only by an exception (it prints it and sends
        # unrecognized_name)
        if self._on_server_name(conn) is not None:
            raise LookupError("no certificate for the requested name")

    async def new_stream(self, stream: Stream, server_name: str | None = None) -> TlsStream:
        """A server :class:`~pyrama_tls.TlsStream` over *stream*, not yet handshaken.

        *server_name* (from a peeked ClientHello) picks the issuer's context up front. When the
        issuer refuses it, the stream starts on the default context and its handshake refuses
        the client with a TLS alert (see the class docs), raising
        :class:`~pyrama_tls.errors.TlsHandshakeError` (reason ``certificate issuance failed``).
        """
        refused: Exception | None = None
        try:
            ctx = await self.context_for_async(server_name)
        except Exception as exc:
            ctx = self._default
            refused = exc
        tls = TlsStream(stream, SSL.Connection(ctx, None), role="server")
        tls._callback_error = refused
        return tls

    async def accept(self, stream: Stream) -> TlsStream:
        """Peek the ClientHello (if configured), handshake, and return the TLS stream.

        The whole of it is bounded by ``handshake_timeout``. On failure *stream* is closed,
        one structured log line is written (``tls handshake failed``, with the peer, SNI,
        side and OpenSSL reason) and :class:`~pyrama_tls.errors.TlsHandshakeError` is raised.
        """
        data = self._data
        timeout = data.handshake_timeout
        scope = asyncio.timeout(timeout)
        hello: ClientHello | None = None
        tls: TlsStream | None = None
        try:
            try:
                async with scope:
                    if data.peek_client_hello:
                        try:
                            hello, stream = await peek_client_hello(
                                stream, timeout=None, max_size=data.client_hello_max_size
                            )
                        except ClientHelloError as exc:
                            _send_plain_alert(stream, exc.hint)
                            raise TlsHandshakeError(
                                f"TLS handshake (server) failed: bad ClientHello: {exc}",
                                role="server",
                                reason="bad client hello",
                            ) from exc
                        except OSError as exc:
                            raise TlsHandshakeError(
                                f"TLS handshake (server): transport failed: {exc}",
                                role="server",
                                reason="transport error",
                            ) from exc
                    if data.issuer is None:  # one context for all: nothing to choose
                        tls = TlsStream(stream, SSL.Connection(self._default, None), role="server")
                    else:
                        sni = hello.server_name if hello is not None else None
                        tls = await self.new_stream(stream, sni)
                    await tls.handshake(client_hello=hello)
            except TimeoutError as exc:
                if not scope.expired():
                    raise
                raise TlsHandshakeTimeoutError(
                    f"TLS handshake (server) did not finish within {timeout:g}s",
                    role="server",
                    seconds=timeout,
                ) from exc
        except (TlsHandshakeError, PyramaTimeoutError) as exc:
            _log_failure(stream, hello, tls, exc)
            await close_quietly(tls if tls is not None else stream)
            raise
        except BaseException:
            await close_quietly(tls if tls is not None else stream, graceful=False)
            raise
        return tls


def _send_plain_alert(stream: Stream, alert: int | None) -> None:
    """Answer a malformed ClientHello with a fatal alert record (plaintext: nothing agreed yet)."""
    if alert is None or not 0 <= alert <= 255 or stream.is_closing():
        return
    with contextlib.suppress(Exception):  # a dying transport: the close says enough
        stream.write(bytes((21, 3, 3, 0, 2, 2, alert)))  # alert record: fatal, *alert*


def _log_failure(
    stream: Stream, hello: ClientHello | None, tls: TlsStream | None, exc: BaseException
) -> None:
    info = stream.extensions.get(SocketInfo)
    sni = None if hello is None else hello.server_name
    if sni is None and tls is not None:
        with contextlib.suppress(Exception):
            raw = tls.connection.get_servername()
            sni = raw.decode("ascii", "replace") if raw else None
    _log.info(
        "tls handshake failed",
        peer=None if info is None else info.peer,
        sni=sni,
        side=getattr(getattr(exc, "side", None), "value", None),
        reason=getattr(exc, "reason", None),
        error=str(exc),
    )


class TlsAcceptorService(Generic[T]):
    """The service :class:`TlsAcceptorLayer` makes: handshake, then serve the TLS stream.

    A failed handshake raises :class:`~pyrama_tls.errors.TlsHandshakeError` after closing the
    connection; the inner service is not called. When the inner service returns, ``close_notify``
    is sent (:meth:`~pyrama_tls.TlsStream.write_eof`) unless the stream is closed already, so
    the client sees an orderly end; closing the connection stays with its owner (the
    listener, which closes it with its own linger bound). When the inner service raises, no
    ``close_notify`` is sent: the peer sees a truncated stream, not a clean end.
    """

    __slots__ = ("_acceptor", "inner")

    def __init__(self, inner: Service[Stream, T], acceptor: TlsAcceptor) -> None:
        self.inner = inner
        self._acceptor = acceptor

    @property
    def acceptor(self) -> TlsAcceptor:
        """The TLS acceptor (contexts, configuration)."""
        return self._acceptor

    async def serve(self, stream: Stream, /) -> T:
        """Terminate TLS on *stream* and hand the decrypted stream to the inner service."""
        tls = await self._acceptor.accept(stream)
        result = await self.inner.serve(tls)
        if not tls.is_closing():
            with contextlib.suppress(Exception):  # a dead transport: nothing left to tell
                tls.write_eof()
        return result

    def __repr__(self) -> str:
        return f"TlsAcceptorService({self.inner!r})"


class TlsAcceptorLayer:
    """Layer that terminates TLS: ``Service[Stream, T]`` becomes ``Service[Stream, T]``.

    The inner service receives a :class:`~pyrama_tls.TlsStream` whose extensions hold the
    :class:`~pyrama_tls.NegotiatedTls` (ALPN, SNI, client certificate, the parsed
    ClientHello) and everything the outer stream carried (``SocketInfo``...). The contexts are
    built once, when :meth:`layer` is called; configuration errors surface there as
    :class:`~pyrama_core.errors.ConfigError`.
    """

    __slots__ = ("data",)

    def __init__(self, data: TlsAcceptorData) -> None:
        """Configure the layer with *data*."""
        if not isinstance(data, TlsAcceptorData):
            raise TypeError(f"TlsAcceptorLayer needs TlsAcceptorData, got {type(data).__name__}")
        self.data = data

    def layer(self, inner: Service[Stream, T], /) -> TlsAcceptorService[T]:
        """Wrap *inner*."""
        return TlsAcceptorService(inner, TlsAcceptor(self.data))

    def __repr__(self) -> str:
        return f"TlsAcceptorLayer(alpn={[p.decode('latin-1') for p in self.data.alpn]!r})"
