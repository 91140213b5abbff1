"""The pyrama error hierarchy.

Every exception pyrama raises derives from :class:`PyramaError`. Third-party errors
(OpenSSL, h11, h2, dnspython, OS errors) are mapped at the package boundary with
``raise SomePyramaError(...) from exc`` so callers can catch one root while the original
stays reachable as ``__cause__``.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "BoxError",
    "ConfigError",
    "LimitError",
    "OverloadedError",
    "ProtocolError",
    "PyramaError",
    "PyramaTimeoutError",
    "RateLimitedError",
    "ShutdownError",
    "Side",
    "is_connection_fault",
]


class Side(Enum):
    """Which side of an exchange broke the protocol."""

    LOCAL = "local"
    REMOTE = "remote"


class PyramaError(Exception):
    """Root of every error raised by pyrama."""


class BoxError(PyramaError):
    """A foreign error wrapped so it can travel through pyrama's error paths.

    The wrapped exception is kept as ``__cause__`` and as :attr:`inner`.
    """

    def __init__(self, inner: BaseException, message: str | None = None) -> None:
        super().__init__(message or f"{type(inner).__name__}: {inner}")
        self.inner = inner
        self.__cause__ = inner


class ConfigError(PyramaError, ValueError):
    """A component was configured with invalid values."""


class PyramaTimeoutError(PyramaError, TimeoutError):
    """An operation did not complete within its deadline (also a builtin ``TimeoutError``).

    :attr:`source` is what enforced the deadline when it says so (a
    :class:`~pyrama_core.layer.TimeoutService` names itself), so a wrapper can tell its own
    timeout from one the inner service raised.
    """

    def __init__(
        self,
        message: str = "operation timed out",
        *,
        seconds: float | None = None,
        source: object | None = None,
    ):
        super().__init__(message)
        self.seconds = seconds
        self.source = source


class LimitError(PyramaError):
    """A configured limit (size, count, depth) was exceeded."""

    def __init__(self, message: str, *, limit: int | float | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class OverloadedError(LimitError):
    """A concurrency limit refused the work instead of waiting for a slot."""


class RateLimitedError(LimitError):
    """A rate limit refused the work; :attr:`retry_after` says when to try again (seconds)."""

    def __init__(
        self, message: str, *, limit: int | float | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, limit=limit)
        self.retry_after = retry_after


class ShutdownError(PyramaError):
    """Work was refused or cancelled because graceful shutdown has begun."""


class ProtocolError(PyramaError):
    """A peer (or we) broke a wire protocol.

    :attr:`side` says who broke it; :attr:`hint` carries a wire-level hint for the reply
    (an HTTP status code, a SOCKS5 reply code, ...), or ``None``.
    """

    def __init__(self, message: str, *, side: Side = Side.REMOTE, hint: int | None = None) -> None:
        super().__init__(message)
        self.side = side
        self.hint = hint


def is_connection_fault(exc: BaseException) -> bool:
    """Whether *exc* is an expected end of one connection rather than a bug in our code.

    True for network errors (``ConnectionError``, ``TimeoutError``, other ``OSError``) and
    for protocol errors that name the side that broke the protocol (any exception with a
    :class:`Side` in its ``side`` attribute, such as :class:`ProtocolError` or a TLS handshake
    failure). Listeners log these in one line without a traceback, so a peer that misbehaves
    cannot make a server spend its time formatting tracebacks.
    """
    if isinstance(exc, OSError):
        return True
    return isinstance(getattr(exc, "side", None), Side)
