"""Errors raised by pyrama-udp."""

from __future__ import annotations

from pyrama_core.errors import LimitError
from pyrama_net.errors import NetError

__all__ = [
    "DatagramTooLargeError",
    "UdpBindError",
    "UdpClosedError",
    "UdpError",
    "UdpSendError",
]


class UdpError(NetError):
    """Root of pyrama-udp's errors."""


class UdpBindError(UdpError, OSError):
    """A UDP socket could not be created or bound (also an ``OSError``; ``errno`` is kept)."""


class UdpClosedError(UdpError):
    """The UDP socket is closed (or closing) and cannot send or receive."""


class UdpSendError(UdpError, OSError):
    """The kernel refused to send a datagram, or reported an error for this connected socket.

    ICMP errors such as "port unreachable" surface here on a connected socket (``errno`` is
    kept, e.g. ``ECONNREFUSED``); the original ``OSError`` is ``__cause__``.
    """


class DatagramTooLargeError(UdpSendError, LimitError):
    """A datagram exceeds what the socket can send in one piece (``EMSGSIZE``)."""
