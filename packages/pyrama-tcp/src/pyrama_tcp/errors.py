"""Errors raised by pyrama-tcp (TCP and Unix-socket listeners and streams)."""

from __future__ import annotations

from pyrama_net.errors import NetError

__all__ = [
    "AcceptError",
    "AddressInUseError",
    "BindError",
    "ListenerClosedError",
    "TcpError",
]


class TcpError(NetError):
    """Root of pyrama-tcp's errors."""


class BindError(TcpError, OSError):
    """A listening socket could not be created or bound.

    It is also an ``OSError`` so code written against the socket module keeps working; the
    original error is ``__cause__`` and its ``errno`` is copied.
    """


class AddressInUseError(BindError):
    """The address (or Unix socket path) is already in use by a live listener."""


class AcceptError(TcpError):
    """Accepting connections failed in a way the listener cannot recover from."""


class ListenerClosedError(TcpError):
    """The listener was closed (or is being served already) and cannot serve."""
