"""Errors raised by pyrama-http-types.

Every error derives from :class:`HttpError` (itself a :class:`~pyrama_core.errors.PyramaError`)
and carries :attr:`HttpError.status_hint`: the HTTP status a server should answer with when the
error is caused by what a client sent (``400`` for a malformed header, ``413`` for a body over
its limit), or ``None`` when no status applies.
"""

from __future__ import annotations

from pyrama_core.errors import LimitError, ProtocolError, PyramaError, Side

__all__ = [
    "BodyConsumedError",
    "BodyError",
    "BodyTooLargeError",
    "DatastarError",
    "HeadParseError",
    "HeaderError",
    "HttpError",
    "InvalidMethodError",
    "InvalidStatusCodeError",
    "InvalidUriError",
    "InvalidVersionError",
    "SseError",
    "SseLimitError",
    "TypedHeaderError",
]


class HttpError(PyramaError):
    """Root of pyrama-http-types' errors.

    :attr:`status_hint` is the HTTP status a server should reply with if this error was caused
    by a request (``None`` when there is no sensible status).
    """

    default_status_hint: int | None = None
    """The hint used when the constructor is not given one."""

    def __init__(self, message: str, *, status_hint: int | None = None) -> None:
        super().__init__(message)
        self.status_hint: int | None = (
            self.default_status_hint if status_hint is None else status_hint
        )


class HeaderError(HttpError, ValueError):
    """A header name or value is not valid (non-token name, CR/LF/NUL in a value)."""

    default_status_hint = 400


class TypedHeaderError(HeaderError):
    """A header is present but its value does not parse as the typed header expects."""


class InvalidUriError(HttpError, ValueError):
    """A URI or request-target failed strict parsing."""

    default_status_hint = 400


class InvalidMethodError(HttpError, ValueError):
    """A request method is not an HTTP token."""

    default_status_hint = 400


class InvalidStatusCodeError(HttpError, ValueError):
    """A status code is outside ``100..999``."""


class InvalidVersionError(HttpError, ValueError):
    """An HTTP version string (or ALPN id) is not one pyrama knows."""

    default_status_hint = 505


class BodyError(HttpError):
    """A body could not be read (already consumed, too large, the stream failed)."""


class BodyConsumedError(BodyError):
    """A body was read a second time; a body can be consumed only once."""


class BodyTooLargeError(BodyError, LimitError):
    """A body is larger than the limit set on it; the status hint is ``413``.

    :attr:`limit` is the limit in bytes.
    """

    default_status_hint = 413

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        HttpError.__init__(self, message)
        self.limit: int | float | None = limit


class HeadParseError(HttpError, ProtocolError):
    """An HTTP/1 message head (request line or header lines) is malformed.

    The status hint is ``400`` unless a more precise one applies (``431`` for a head over its
    size limit, ``505`` for an unsupported version); :attr:`side` is the peer by default.
    """

    default_status_hint = 400

    def __init__(
        self, message: str, *, status_hint: int | None = None, side: Side = Side.REMOTE
    ) -> None:
        HttpError.__init__(self, message, status_hint=status_hint)
        self.side = side
        self.hint = self.status_hint


class SseError(HttpError):
    """A server-sent event cannot be encoded (a field with a line break) or decoded."""


class SseLimitError(SseError, LimitError):
    """An incoming server-sent event stream went over a size limit (line or event data).

    :attr:`limit` is the limit in bytes.
    """

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        HttpError.__init__(self, message)
        self.limit: int | float | None = limit


class DatastarError(HttpError, ValueError):
    """A Datastar event or the signals a browser sent are invalid (status hint ``400``)."""

    default_status_hint = 400
