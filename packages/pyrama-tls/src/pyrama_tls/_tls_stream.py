"""TlsStream: TLS over any pyrama Stream, driven through OpenSSL memory BIOs.

The TLS engine is an ``OpenSSL.SSL.Connection`` made without a socket: ciphertext read from
the inner stream goes into its read BIO, ciphertext the engine produces is taken from its
write BIO and written to the inner stream, and the plaintext side is ``SSL_read``/``SSL_write``
(through :func:`~pyrama_tls._openssl_ext.memory_bio_io`: several records per call, no
exception per record). Because nothing here touches a socket, the inner stream can be anything
that is a :class:`~pyrama_net.Stream`: TCP, a Unix socket, a SOCKS5 or CONNECT tunnel, an h2
stream, a peeked stream replaying a ClientHello, or another :class:`TlsStream` (TLS over TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
from collections.abc import Callable
from functools import partial
from typing import Any

from cryptography import x509
from OpenSSL import SSL

from pyrama_core import Extensions
from pyrama_core.errors import Side
from pyrama_net import Stream
from pyrama_tls._client_hello import ClientHello
from pyrama_tls._negotiated import NegotiatedTls, TlsRole
from pyrama_tls._openssl_ext import (
    READ_CLOSE_NOTIFY,
    READ_MORE,
    memory_bio_io,
    session_reused,
    verify_error_string,
)
from pyrama_tls.errors import (
    CertificateVerifyError,
    TlsHandshakeError,
    TlsHandshakeTimeoutError,
    TlsStreamError,
)

__all__ = ["TlsStream", "close_quietly", "ssl_error_reason"]

# how much ciphertext to ask the inner stream for per read
_INNER_READ = 262144
# plaintext per SSL_write call: bounds the ciphertext held in the memory BIO at once
_WRITE_CHUNK = 262144

# OpenSSL's SSL_MODE_ENABLE_PARTIAL_WRITE: off, so one SSL_write encrypts the whole buffer
SSL_MODE_ENABLE_PARTIAL_WRITE = 0x1

# reasons that mean our own policy refused the peer (the rest: the peer ended or broke it)
_LOCAL_REASONS = (
    "certificate verify failed",
    "no shared cipher",
    "unsupported protocol",
    "no protocols available",
    "no suitable signature algorithm",
    "no shared signature algorithms",
    "no suitable key share",
    "no shared groups",
    "no application protocol",
    "peer did not return a certificate",
    "callback failed",
)


def ssl_error_reason(exc: BaseException) -> str:
    """OpenSSL's reason string from a pyOpenSSL error (the last entry of its error queue)."""
    if isinstance(exc, SSL.SysCallError):
        code, text = (*exc.args, None, None)[:2]
        return "unexpected eof" if code == -1 else f"system call failed: {text or code}"
    args = exc.args[0] if exc.args else None
    if isinstance(args, list) and args:
        last = args[-1]
        if isinstance(last, tuple) and len(last) >= 3 and last[2]:
            return str(last[2])
    return str(exc) or type(exc).__name__


class _VerifyState:
    """Per-connection facts recorded by callbacks during the handshake."""

    __slots__ = ("depth", "error", "subject")

    def __init__(self) -> None:
        self.error: int | None = None
        self.depth: int | None = None
        self.subject: str | None = None


def record_verify(conn: SSL.Connection, cert: Any, errnum: int, depth: int, ok: int) -> bool:
    """A ``Context.set_verify`` callback that keeps OpenSSL's verdict and remembers failures.

    The first refused certificate's ``X509_V_ERR_*`` code and depth are stored on the
    connection's app data (a :class:`TlsStream`) so the handshake error can name them.
    """
    if not ok:
        stream = conn.get_app_data()
        state = getattr(stream, "_verify", None)
        if isinstance(state, _VerifyState) and state.error is None:
            state.error = errnum
            state.depth = depth
            try:
                state.subject = cert.to_cryptography().subject.rfc4514_string()
            except Exception:  # pragma: no cover - only for the message
                state.subject = None
    return bool(ok)


class TlsStream:
    """A :class:`~pyrama_net.Stream` that speaks TLS over an inner Stream.

    Build one from an inner stream and an ``OpenSSL.SSL.Connection`` created with
    ``SSL.Connection(context, None)`` (memory BIOs), then ``await handshake()``; the acceptor
    and connector layers (and :func:`~pyrama_tls.tls_connect`) do this for you. Until the
    handshake is done, reading or writing raises :class:`~pyrama_tls.errors.TlsStreamError`.

    Semantics:

    * :meth:`read` returns decrypted bytes, gathering several records (up to *max_bytes*, at
      most 256 KiB) per call; ``b""`` at the peer's ``close_notify``, or at a plain EOF of the
      inner stream without one (a "ragged" EOF, as most TLS stacks allow; see
      :attr:`close_notify_received`).
      A fatal alert or a bad record raises :class:`~pyrama_tls.errors.TlsStreamError`.
    * :meth:`write` encrypts at once (OpenSSL cuts the records) and queues the ciphertext on
      the inner stream; :meth:`drain` is the inner stream's.
    * :meth:`write_eof` sends ``close_notify``, TLS's only end-of-data signal, and then
      half-closes the inner stream when it can. Reading keeps working: TLS 1.3 defines
      ``close_notify`` as closing one direction only, and OpenSSL reads on after sending it.
    * :meth:`close` sends ``close_notify`` (best effort, without waiting for the peer's) and
      closes the inner stream.

    :attr:`extensions` is a fork of the inner stream's, so facts such as
    :class:`~pyrama_net.SocketInfo` stay visible; the handshake inserts a
    :class:`~pyrama_tls.NegotiatedTls`. One reader and one writer may run concurrently (as a
    relay does); renegotiation is refused.
    """

    __slots__ = (
        "_callback_error",
        "_close_notify",
        "_closed",
        "_conn",
        "_eof",
        "_eof_sent",
        "_extensions",
        "_inner",
        "_io",
        "_negotiated",
        "_on_session",
        "_role",
        "_server_name",
        "_session_saved",
        "_verify",
    )

    def __init__(
        self,
        inner: Stream,
        connection: SSL.Connection,
        *,
        role: TlsRole,
        server_name: str | None = None,
    ) -> None:
        if role not in ("client", "server"):
            raise ValueError(f"role must be 'client' or 'server', got {role!r}")
        self._inner = inner
        self._conn = connection
        self._io = memory_bio_io(connection)
        self._role: TlsRole = role
        self._server_name = server_name
        self._extensions = inner.extensions.fork()
        self._negotiated: NegotiatedTls | None = None
        self._verify = _VerifyState()
        self._eof = False
        self._close_notify = False
        self._eof_sent = False
        self._closed = False
        self._on_session: Callable[[SSL.Session], None] | None = None
        self._session_saved = False
        self._callback_error: BaseException | None = None
        connection.set_app_data(self)
        if role == "client":
            connection.set_connect_state()
            if server_name is not None and not _is_ip_literal(server_name):
                connection.set_tlsext_host_name(server_name.encode("idna"))
        else:
            connection.set_accept_state()

    # -- facts ----------------------------------------------------------------------------------

    @property
    def extensions(self) -> Extensions:
        """A fork of the inner stream's extensions, with :class:`NegotiatedTls` once handshaken."""
        return self._extensions

    @property
    def inner(self) -> Stream:
        """The stream carrying the ciphertext."""
        return self._inner

    @property
    def connection(self) -> SSL.Connection:
        """The pyOpenSSL connection (for ``export_keying_material`` and other rare needs)."""
        return self._conn

    @property
    def role(self) -> TlsRole:
        """``"client"`` or ``"server"``."""
        return self._role

    @property
    def negotiated(self) -> NegotiatedTls | None:
        """What the handshake agreed on, or ``None`` before it finished."""
        return self._negotiated

    @property
    def close_notify_received(self) -> bool:
        """Whether the peer ended its data with ``close_notify`` (not a bare transport EOF)."""
        return self._close_notify

    # -- handshake ------------------------------------------------------------------------------

    async def handshake(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline for the handshake only
        *,
        client_hello: ClientHello | None = None,
    ) -> NegotiatedTls:
        """Run the TLS handshake; return (and insert into extensions) the :class:`NegotiatedTls`.

        *timeout* (seconds) bounds the whole handshake: running out raises
        :class:`~pyrama_tls.errors.TlsHandshakeTimeoutError`. Failures raise
        :class:`~pyrama_tls.errors.TlsHandshakeError` (or
        :class:`~pyrama_tls.errors.CertificateVerifyError` when the peer's certificate was
        refused) with the OpenSSL error as ``__cause__``; the stream is left open for the caller
        to close. *client_hello* (server side) is carried into the result. Calling it again after
        success returns the same result.
        """
        if self._negotiated is not None:
            return self._negotiated
        try:
            if timeout is None:
                await self._handshake()
            else:
                scope = asyncio.timeout(timeout)
                try:
                    async with scope:
                        await self._handshake()
                except TimeoutError as exc:
                    if not scope.expired():
                        raise
                    raise TlsHandshakeTimeoutError(
                        f"TLS handshake ({self._role}) did not finish within {timeout:g}s",
                        role=self._role,
                        seconds=timeout,
                    ) from exc
        finally:
            # the callbacks that look the stream up (verification, SNI) run in the handshake
            # only; without the link back, stream and connection are freed by reference
            # counting, not left to the cyclic garbage collector
            self._conn.set_app_data(None)
        negotiated = self._build_negotiated(client_hello)
        self._negotiated = negotiated
        self._extensions.insert(negotiated)
        if self._on_session is not None:
            self._save_session()
        return negotiated

    async def _handshake(self) -> None:
        io = self._io
        if self._role == "server":
            # a server has nothing to say before the ClientHello: skip the first round trip
            # through the engine (which would only ask for it)
            io.put(await self._handshake_read())
        while True:
            try:
                done = io.handshake_step()
            except SSL.Error as exc:
                await self._flush_quietly()  # the alert OpenSSL queued, if any
                issue = self._callback_error
                if isinstance(issue, Exception):
                    # our SNI callback refused the name (the client got an alert)
                    raise TlsHandshakeError(
                        f"TLS handshake ({self._role}) failed: no certificate for the "
                        f"requested name: {issue}",
                        role=self._role,
                        side=Side.LOCAL,
                        reason="certificate issuance failed",
                    ) from issue
                raise self._handshake_error(exc) from exc
            except TlsHandshakeError:
                await self._flush_quietly()  # raised by one of our callbacks (strict ALPN)
                raise
            if done:
                break
            out = io.take()
            if out:
                await self._handshake_write(out)
            io.put(await self._handshake_read())
        out = io.take()  # the last flight (TLS 1.3 server: session tickets)
        if out:
            await self._handshake_write(out)

    async def _handshake_read(self) -> bytes:
        try:
            data = await self._inner.read(_INNER_READ)
        except (OSError, TlsStreamError) as exc:
            raise self._transport_failed(exc) from exc
        if not data:
            raise TlsHandshakeError(
                f"TLS handshake ({self._role}): the peer closed the connection",
                role=self._role,
                reason="unexpected eof",
            ) from None
        return data

    async def _handshake_write(self, out: bytes | bytearray) -> None:
        inner = self._inner
        try:
            inner.write(out)
            await inner.drain()
        except (OSError, TlsStreamError) as exc:
            raise self._transport_failed(exc) from exc

    def _transport_failed(self, exc: BaseException) -> TlsHandshakeError:
        return TlsHandshakeError(
            f"TLS handshake ({self._role}): transport failed: {exc}",
            role=self._role,
            reason="transport error",
        )

    def _handshake_error(self, exc: SSL.Error) -> TlsHandshakeError:
        reason = ssl_error_reason(exc)
        state = self._verify
        if "certificate verify failed" in reason or state.error is not None:
            if state.error is not None:
                what = verify_error_string(state.error)
                where = f" at depth {state.depth}" if state.depth is not None else ""
                subject = f" ({state.subject})" if state.subject else ""
                message = f"peer certificate refused: {what}{where}{subject}"
            else:
                message = f"peer certificate refused: {reason}"
            return CertificateVerifyError(
                f"TLS handshake ({self._role}) failed: {message}",
                role=self._role,
                reason=reason,
                verify_code=state.error,
                depth=state.depth,
            )
        side = Side.LOCAL if any(r in reason for r in _LOCAL_REASONS) else Side.REMOTE
        return TlsHandshakeError(
            f"TLS handshake ({self._role}) failed: {reason}",
            role=self._role,
            side=side,
            reason=reason,
        )

    def _build_negotiated(self, client_hello: ClientHello | None) -> NegotiatedTls:
        conn = self._conn
        alpn = conn.get_alpn_proto_negotiated()
        if self._role == "server":
            sni_raw = conn.get_servername()
            sni = sni_raw.decode("ascii", "replace") if sni_raw else None
        else:
            sni = self._server_name
        return NegotiatedTls._from_handshake(
            role=self._role,
            version=conn.get_protocol_version_name(),
            cipher=conn.get_cipher_name(),
            alpn=alpn.decode("latin-1") if alpn else None,
            server_name=sni,
            session_reused=session_reused(conn),
            group=_group_name(conn),
            client_hello=client_hello,
            # converted to cryptography objects only when someone asks
            leaf=partial(_peer_leaf, conn),
            chain=partial(_peer_chain, conn),
        )

    # -- sessions (client side) ---------------------------------------------------------------

    def _set_session_sink(self, sink: Callable[[SSL.Session], None]) -> None:
        """Call *sink* with the session after the handshake, the first data and at close.

        TLS 1.3 servers send their session tickets after the handshake; they are processed
        with the first records read, so the session is offered again then.
        """
        self._on_session = sink

    def _save_session(self) -> None:
        sink = self._on_session
        if sink is None:
            return
        try:
            session = self._conn.get_session()
        except SSL.Error:  # pragma: no cover - get_session does not fail in practice
            return
        if session is not None:
            sink(session)

    # -- reading --------------------------------------------------------------------------------

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Return up to *max_bytes* decrypted bytes (at least one), or ``b""`` at EOF."""
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self._negotiated is None:
            raise TlsStreamError("read before the TLS handshake finished")
        if self._eof:
            return b""
        io = self._io
        while True:
            try:
                data, status = io.read(max_bytes)
            except SSL.Error as exc:
                self._flush_nowait()  # the alert OpenSSL queued, if any
                reason = ssl_error_reason(exc)
                raise TlsStreamError(f"TLS read failed: {reason}", reason=reason) from exc
            if status != READ_MORE:
                self._eof = True
                self._close_notify = status == READ_CLOSE_NOTIFY
                break
            if data:
                break
            if io.pending():
                self._flush_nowait()
            chunk = await self._inner.read(_INNER_READ)
            if not chunk:
                self._eof = True
                return b""
            io.put(chunk)
        if io.pending():
            self._flush_nowait()  # e.g. a KeyUpdate answer
        if not self._session_saved and self._on_session is not None:
            self._session_saved = True
            self._save_session()
        return data

    # -- writing --------------------------------------------------------------------------------

    def _flush_nowait(self) -> None:
        """Queue pending ciphertext on the inner stream, unless it can no longer take any."""
        out = self._io.take()
        if out and not self._eof_sent and not self._inner.is_closing():
            self._inner.write(out)

    async def _flush_quietly(self) -> None:
        try:
            self._flush_nowait()
            await self._inner.drain()
        except Exception:
            pass

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Encrypt *data* and queue the records on the inner stream."""
        if self._negotiated is None:
            raise TlsStreamError("write before the TLS handshake finished")
        if self._eof_sent:
            raise TlsStreamError("write after write_eof() or close()")
        view = data if isinstance(data, memoryview) else memoryview(data)
        if view.itemsize != 1 or view.ndim != 1:
            view = view.cast("B")
        total = len(view)
        if not total:
            return
        io = self._io
        inner = self._inner
        for off in range(0, total, _WRITE_CHUNK):
            try:
                io.write(view[off : off + _WRITE_CHUNK] if total > _WRITE_CHUNK else view)
            except SSL.WantReadError as exc:
                raise TlsStreamError(
                    "the TLS engine wants to read during a write (renegotiation is not supported)",
                    reason="renegotiation",
                ) from exc
            except SSL.Error as exc:
                reason = ssl_error_reason(exc)
                raise TlsStreamError(f"TLS write failed: {reason}", reason=reason) from exc
            out = io.take()
            if out:
                inner.write(out)

    async def drain(self) -> None:
        """Wait for the inner stream's write queue."""
        await self._inner.drain()

    def can_write_eof(self) -> bool:
        """Always true: :meth:`write_eof` sends ``close_notify``."""
        return True

    def write_eof(self) -> None:
        """Send ``close_notify``, then half-close the inner stream if it supports that.

        No more writes are allowed afterwards; reading continues until the peer's EOF. A peer
        that is gone already (the half-close fails with ``ENOTCONN``, ``EPIPE`` or a reset) is
        not an error: there is nobody left to tell.
        """
        if self._eof_sent:
            return
        self._send_close_notify()
        inner = self._inner
        if not inner.is_closing() and inner.can_write_eof():
            try:
                inner.write_eof()
            except OSError as exc:
                if not _peer_gone(exc):
                    raise

    def _send_close_notify(self) -> None:
        if self._eof_sent:
            return
        if self._negotiated is not None:
            with contextlib.suppress(SSL.Error):
                self._conn.shutdown()
            self._flush_nowait()
        self._eof_sent = True

    def is_closing(self) -> bool:
        """Whether :meth:`close` was called or the inner stream is closing."""
        return self._closed or self._inner.is_closing()

    async def close(self) -> None:
        """Send ``close_notify`` (best effort) and close the inner stream (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._on_session is not None and self._negotiated is not None:
                self._save_session()
            if not self._inner.is_closing():
                with contextlib.suppress(Exception):  # a dying transport must not fail close()
                    self._send_close_notify()
            self._eof_sent = True
        await self._inner.close()

    def abort(self) -> None:
        """Drop everything at once: abort the inner stream if it can, without ``close_notify``."""
        self._closed = True
        self._eof_sent = True
        fn: Any = getattr(self._inner, "abort", None)
        if callable(fn):
            fn()

    def __repr__(self) -> str:
        n = self._negotiated
        state = f"{n.version}, alpn={n.alpn!r}" if n is not None else "handshaking"
        return f"TlsStream({self._role}, {state}, inner={self._inner!r})"


_CLOSE_GRACE = 2.0


async def close_quietly(stream: Stream, *, graceful: bool = True) -> None:
    """Close *stream* after a failure, never raising.

    *graceful*: let queued bytes (a TLS alert) go out first, for at most two seconds, then
    abort; otherwise abort at once (for cancellation).
    """
    abort: Any = getattr(stream, "abort", None)
    if graceful:
        try:
            async with asyncio.timeout(_CLOSE_GRACE):
                await stream.close()
            return
        except Exception:  # fall through to abort
            pass
    try:
        if callable(abort):
            abort()
        await stream.close()
    except Exception:  # the connection is being dropped anyway
        pass


_PEER_GONE_ERRNOS = frozenset(
    {errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ESHUTDOWN}
)


def _peer_gone(exc: BaseException) -> bool:
    """Whether *exc* says the peer has closed or reset the connection (nothing to send to)."""
    if isinstance(exc, BrokenPipeError | ConnectionResetError | ConnectionAbortedError):
        return True
    return isinstance(exc, OSError) and exc.errno in _PEER_GONE_ERRNOS


def _peer_leaf(conn: SSL.Connection) -> x509.Certificate | None:
    return conn.get_peer_certificate(as_cryptography=True)


def _peer_chain(
    conn: SSL.Connection, leaf: x509.Certificate | None
) -> tuple[x509.Certificate, ...]:
    if leaf is None:
        return ()
    chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    # a client's chain starts with the server's leaf; a server's omits the client's leaf
    if chain and chain[0] == leaf:
        return (leaf, *chain[1:])
    return (leaf, *chain)


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _group_name(conn: SSL.Connection) -> str | None:
    fn: Any = getattr(conn, "get_group_name", None)
    if not callable(fn):
        return None
    try:
        name = fn()
    except SSL.Error:  # pragma: no cover
        return None
    return name if isinstance(name, str) and name else None
