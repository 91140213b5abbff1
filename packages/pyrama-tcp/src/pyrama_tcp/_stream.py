"""TcpStream: a SocketStream over a TCP connection, with TCP socket options."""

from __future__ import annotations

import socket
from typing import Any

from pyrama_net import SocketAddress, SocketInfo, SocketStream
from pyrama_tcp.errors import TcpError

__all__ = ["TcpStream"]


class TcpStream(SocketStream):
    """A :class:`~pyrama_net.Stream` over one TCP connection.

    Everything :class:`~pyrama_net.SocketStream` does (Protocol-buffered reads, backpressure,
    half-close, :meth:`detach_socket` for zero-copy relays) plus TCP conveniences: the peer
    and local addresses, ``TCP_NODELAY`` (on by default, as asyncio sets it) and keep-alive.
    Listeners make these for accepted connections; its extensions hold a
    :class:`~pyrama_net.SocketInfo`.
    """

    __slots__ = ()

    def _socket(self) -> Any:
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            raise TcpError("the stream has no socket (it is closed)")
        return sock

    @property
    def peer_addr(self) -> SocketAddress:
        """The remote address of the connection."""
        info = self._extensions.require(SocketInfo)
        return SocketAddress.from_tuple(info.peer)

    @property
    def local_addr(self) -> SocketAddress:
        """The local address of the connection."""
        info = self._extensions.require(SocketInfo)
        return SocketAddress.from_tuple(info.local)

    @property
    def nodelay(self) -> bool:
        """Whether ``TCP_NODELAY`` is set (Nagle's algorithm disabled)."""
        return bool(self._socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def set_nodelay(self, enabled: bool = True) -> None:
        """Set or clear ``TCP_NODELAY``: send small writes at once instead of coalescing."""
        self._socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if enabled else 0)

    def set_keepalive(
        self,
        enabled: bool = True,
        *,
        idle: int | None = None,
        interval: int | None = None,
        count: int | None = None,
    ) -> None:
        """Turn TCP keep-alive probes on or off.

        *idle* is the number of idle seconds before the first probe, *interval* the seconds
        between probes and *count* how many unanswered probes drop the connection; each is
        applied when given and the platform supports it (Linux and macOS do).
        """
        sock = self._socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if enabled else 0)
        if not enabled:
            return
        idle_opt = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
        for opt, value in (
            (idle_opt, idle),
            (getattr(socket, "TCP_KEEPINTVL", None), interval),
            (getattr(socket, "TCP_KEEPCNT", None), count),
        ):
            if value is not None and opt is not None:
                if value < 1:
                    raise ValueError(f"keep-alive settings must be >= 1, got {value!r}")
                sock.setsockopt(socket.IPPROTO_TCP, opt, value)

    def __repr__(self) -> str:
        info = self._extensions.get(SocketInfo)
        if info is None:
            return "TcpStream()"
        return f"TcpStream(local={info.local!r}, peer={info.peer!r})"
