"""Datagram: one received UDP datagram, the input of a datagram service."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyrama_core import Extensions
from pyrama_net import SocketAddress

__all__ = ["Datagram"]


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP datagram as a datagram service receives it.

    ``peer`` sent ``data`` to ``local`` (the receiving socket's bound address; for a wildcard
    bind that is the wildcard, not the exact destination IP). ``extensions`` falls through to
    the receiving socket's extensions, so socket-wide facts are visible and per-datagram
    facts stay private.
    """

    data: bytes
    """The payload."""
    peer: SocketAddress
    """Who sent it."""
    local: SocketAddress
    """The address of the socket that received it."""
    extensions: Extensions = field(default_factory=Extensions)
    """Facts about this datagram, for layers and services."""
