"""Errors raised by pyrama-haproxy.

Every error derives from :class:`HaProxyError` (a :class:`~pyrama_core.errors.PyramaError`).
A malformed or missing PROXY protocol header is a :class:`ProxyHeaderError`, which is also a
:class:`~pyrama_core.errors.ProtocolError` naming the side that broke the protocol (the remote
peer for headers we received), so listeners log it in one line and keep serving.
"""

from __future__ import annotations

from pyrama_core.errors import ProtocolError, PyramaError, PyramaTimeoutError, Side

__all__ = [
    "HaProxyError",
    "ProxyHeaderError",
    "ProxyHeaderMissingError",
    "ProxyHeaderTimeoutError",
    "ProxyHeaderTooLargeError",
]


class HaProxyError(PyramaError):
    """Root of pyrama-haproxy errors."""


class ProxyHeaderError(HaProxyError, ProtocolError):
    """A PROXY protocol header is malformed (or could not be produced).

    :attr:`side` is :attr:`~pyrama_core.errors.Side.REMOTE` for a header received from a peer.
    """

    def __init__(self, message: str, *, side: Side = Side.REMOTE) -> None:
        super().__init__(message, side=side)


class ProxyHeaderTooLargeError(ProxyHeaderError):
    """A header is longer than the protocol or the configured limit allows.

    :attr:`limit` is the limit that was exceeded, in bytes.
    """

    def __init__(self, message: str, *, limit: int, side: Side = Side.REMOTE) -> None:
        super().__init__(message, side=side)
        self.limit = limit


class ProxyHeaderMissingError(ProxyHeaderError):
    """A connection that must start with a PROXY protocol header started with something else."""


class ProxyHeaderTimeoutError(ProxyHeaderError, PyramaTimeoutError):
    """The PROXY protocol header did not arrive in time (also a builtin ``TimeoutError``).

    :attr:`seconds` is the deadline that ran out.
    """

    def __init__(self, message: str, *, seconds: float | None = None) -> None:
        ProxyHeaderError.__init__(self, message)
        self.seconds = seconds
