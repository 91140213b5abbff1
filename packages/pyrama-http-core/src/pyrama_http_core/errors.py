"""Errors raised by pyrama-http-core's connection drivers and codecs.

Every error derives from :class:`HttpCoreError` (itself a
:class:`~pyrama_core.errors.PyramaError`). Errors of the codecs' parsers (h11, h2, httptools)
are mapped at the boundary with ``raise ... from exc``; protocol errors say which side broke the
protocol (:class:`~pyrama_core.errors.Side`) and carry an HTTP status hint for the reply.
"""

from __future__ import annotations

from pyrama_core.errors import LimitError, ProtocolError, PyramaError, PyramaTimeoutError, Side
from pyrama_http_types.errors import BodyTooLargeError

__all__ = [
    "BodyLimitError",
    "ConnectionClosedError",
    "ConnectionNotReadyError",
    "H2GoAwayError",
    "H2StreamResetError",
    "HeaderLimitError",
    "HttpCoreError",
    "HttpProtocolError",
    "HttpTimeoutError",
    "UpgradeError",
]


class HttpCoreError(PyramaError):
    """Root of pyrama-http-core's errors."""


class HttpProtocolError(HttpCoreError, ProtocolError):
    """A peer (``side=REMOTE``) or we (``side=LOCAL``) broke the HTTP protocol.

    :attr:`hint` is the HTTP status a server answers with (``400`` for a malformed request,
    ``431`` for an oversize head, ``501`` for an unknown transfer coding, ...), or ``None``.
    """

    def __init__(self, message: str, *, side: Side = Side.REMOTE, hint: int | None = 400) -> None:
        super().__init__(message, side=side, hint=hint)


class HeaderLimitError(HttpProtocolError, LimitError):
    """A head (or trailer section) exceeded a size or count limit (status hint ``431``)."""

    def __init__(self, message: str, *, limit: int | None = None, side: Side = Side.REMOTE) -> None:
        HttpProtocolError.__init__(self, message, side=side, hint=431)
        self.limit = limit


class BodyLimitError(HttpProtocolError, BodyTooLargeError):
    """A request body exceeded ``max_body_size`` (status hint ``413``).

    Raised to the service by the request body's reads once the limit is crossed; the server
    driver answers ``413`` (if no response was sent yet) and closes the connection. It is also
    a :class:`pyrama_http_types.errors.BodyTooLargeError`, like the error of
    :meth:`Body.limited <pyrama_http_types.Body.limited>`, so one ``except`` catches both.
    """

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        HttpProtocolError.__init__(self, message, side=Side.REMOTE, hint=413)
        self.status_hint = 413
        self.limit = limit


class ConnectionClosedError(HttpCoreError, ConnectionError):
    """The connection closed before the message was complete.

    On the client side, :attr:`request_sent` says whether any byte of the request went out:
    when it is ``False`` the request can safely be retried on a fresh connection (a pooled
    keep-alive connection the server closed meanwhile).
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class ConnectionNotReadyError(HttpCoreError):
    """The connection cannot take a request now (busy with another, closed or upgraded)."""


class HttpTimeoutError(HttpCoreError, PyramaTimeoutError):
    """An HTTP connection deadline passed (head read, idle keep-alive, response head)."""


class UpgradeError(HttpCoreError):
    """A protocol upgrade (``Upgrade`` or ``CONNECT``) did not happen.

    Raised when awaiting an :class:`~pyrama_http_core.OnUpgrade` whose request was answered
    without switching protocols, or whose connection failed before the switch.
    """


class H2StreamResetError(HttpCoreError):
    """An HTTP/2 stream was reset (RST_STREAM) by the peer (``remote``) or by us.

    :attr:`error_code` is the HTTP/2 error code. :attr:`retryable` is true for
    ``REFUSED_STREAM``: the peer did not process the request, so it may be sent again.
    """

    def __init__(self, message: str, *, error_code: int, remote: bool) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.remote = remote

    @property
    def retryable(self) -> bool:
        """Whether the request was certainly not processed (``REFUSED_STREAM`` from the peer)."""
        return self.remote and self.error_code == 0x7


class H2GoAwayError(ConnectionClosedError):
    """The HTTP/2 peer sent GOAWAY and this request's stream will not complete.

    :attr:`retryable` is true when the stream id is above :attr:`last_stream_id` (the peer
    promises it did not process it) or the connection was already going away before the
    request was sent: retry it on a new connection.
    """

    def __init__(
        self, message: str, *, error_code: int, last_stream_id: int, retryable: bool
    ) -> None:
        super().__init__(message, request_sent=not retryable)
        self.error_code = error_code
        self.last_stream_id = last_stream_id
        self.retryable = retryable
