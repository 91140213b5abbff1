"""Errors raised by pyrama-net."""

from __future__ import annotations

from pyrama_core.errors import ProtocolError, PyramaError

__all__ = [
    "AddressError",
    "ConnectError",
    "DnsError",
    "NetError",
    "StreamError",
    "UnexpectedEofError",
]


class NetError(PyramaError):
    """Root of pyrama-net's errors."""


class AddressError(NetError, ValueError):
    """A host, domain, authority, socket or proxy address failed strict parsing."""


class StreamError(NetError):
    """A stream failed (closed, reset, detached)."""


class UnexpectedEofError(StreamError, ProtocolError):
    """The peer closed the stream before the expected bytes arrived."""

    def __init__(self, message: str, *, expected: int | None = None, got: int = 0) -> None:
        ProtocolError.__init__(self, message)
        self.expected = expected
        self.got = got


class DnsError(NetError):
    """Name resolution failed (no such name, no answer, resolver failure)."""


class ConnectError(NetError, ConnectionError):
    """Establishing a connection failed (all addresses tried)."""
