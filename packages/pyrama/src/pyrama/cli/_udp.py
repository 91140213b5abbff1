"""The UDP side of ``pyrama serve``: datagram services and the relay, on one bound socket."""

from __future__ import annotations

from typing import Any

from pyrama.cli._serve import ServeSettings, Started
from pyrama_core import ShutdownGuard
from pyrama_udp import DEFAULT_CONCURRENCY, Datagram, UdpRelay, UdpServer, UdpSocket

__all__ = ["discard_datagram", "echo_datagram", "start_udp", "start_udp_relay"]


class _Echo:
    """``Service[Datagram, bytes]``: the datagram itself goes back to its sender."""

    __slots__ = ()

    async def serve(self, dgram: Datagram, /) -> bytes:
        """Return the payload unchanged."""
        return dgram.data


class _Discard:
    """``Service[Datagram, None]``: nothing goes back."""

    __slots__ = ()

    async def serve(self, dgram: Datagram, /) -> None:
        """Drop the datagram."""
        del dgram


echo_datagram = _Echo()
"""Echo (RFC 862 over UDP): every datagram is sent back to its sender, boundaries kept."""

discard_datagram = _Discard()
"""Discard (RFC 863 over UDP): every datagram is dropped."""


async def _serve_then_close(sock: UdpSocket, serving: Any) -> None:
    try:
        await serving
    finally:
        await sock.close()


async def start_udp(s: ServeSettings, guard: ShutdownGuard, service: _Echo | _Discard) -> Started:
    """Bind ``s.bind`` and answer every datagram with *service*.

    ``--concurrent`` bounds the datagrams handled at once (datagrams beyond it wait in the
    socket's bounded queue); ``--timeout`` does not apply (a datagram is answered at once).
    """
    sock = await UdpSocket.bind(s.bind)
    server = UdpServer(service, concurrency=s.concurrent or DEFAULT_CONCURRENCY)
    task = guard.spawn_task(
        _serve_then_close(sock, server.serve(sock, guard=guard.clone())),
        name=f"pyrama serve {s.command} (udp)",
    )

    def in_flight() -> int:
        return server.in_flight

    return Started(address=str(sock.local_addr), task=task, in_flight=in_flight)


async def start_udp_relay(s: ServeSettings, guard: ShutdownGuard, relay: UdpRelay) -> Started:
    """Bind ``s.bind`` and relay every client's datagrams with *relay*."""
    sock = await UdpSocket.bind(s.bind)
    task = guard.spawn_task(
        _serve_then_close(sock, relay.serve(sock, guard=guard.clone())),
        name=f"pyrama serve {s.command} (udp)",
    )

    def in_flight() -> int:
        return relay.sessions

    return Started(address=str(sock.local_addr), task=task, in_flight=in_flight)
