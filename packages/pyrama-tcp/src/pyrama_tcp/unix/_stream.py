"""UnixStream: a SocketStream over a Unix domain socket connection."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Any

from pyrama_net import SocketInfo, SocketStream, SocketStreamProtocol
from pyrama_net.errors import ConnectError
from pyrama_tcp.errors import TcpError

__all__ = ["PeerCredentials", "UnixPath", "UnixStream"]

UnixPath = str | bytes | os.PathLike[str]
"""A Unix socket path; on Linux a leading NUL (``"\\0name"``) names an abstract socket."""

_PEERCRED = struct.Struct("3i")


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """Who is on the other end of a Unix socket, as the kernel saw it at ``connect()``."""

    pid: int
    """The peer's process id."""
    uid: int
    """The peer's effective user id."""
    gid: int
    """The peer's effective group id."""


def _path_text(raw: Any) -> str | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "surrogateescape")
    if not raw:
        return None  # unnamed (autobound or socketpair) socket
    return str(raw)


class UnixStream(SocketStream):
    """A :class:`~pyrama_net.Stream` over one Unix domain socket connection.

    The :class:`~pyrama_net.SocketInfo` in its extensions holds the socket paths. Accepted by
    :class:`~pyrama_tcp.unix.UnixListener`, opened by :meth:`connect` or
    :class:`~pyrama_tcp.unix.UnixConnector`.
    """

    __slots__ = ()

    @classmethod
    async def connect(cls, path: UnixPath) -> UnixStream:
        """Connect to the Unix socket at *path*.

        Raises :class:`~pyrama_net.errors.ConnectError` (also a ``ConnectionError``) when
        nothing listens there, the path is missing or access is denied.
        """
        loop = asyncio.get_running_loop()
        factory = functools.partial(SocketStreamProtocol, loop, stream_factory=cls)
        target = os.fsdecode(path) if not isinstance(path, bytes) else path
        try:
            _, proto = await loop.create_unix_connection(factory, target)  # type: ignore[arg-type]
        except OSError as exc:
            raise ConnectError(f"cannot connect to Unix socket {target!r}: {exc}") from exc
        stream = proto.stream
        assert isinstance(stream, cls)
        return stream

    @property
    def peer_path(self) -> str | None:
        """The path the peer is bound to; ``None`` for an unnamed client socket."""
        return _path_text(self._extensions.require(SocketInfo).peer)

    @property
    def local_path(self) -> str | None:
        """The path this end is bound to; ``None`` for an unnamed client socket."""
        return _path_text(self._extensions.require(SocketInfo).local)

    def peer_credentials(self) -> PeerCredentials:
        """The peer's pid, uid and gid (``SO_PEERCRED``, Linux).

        Raises :class:`~pyrama_tcp.errors.TcpError` on platforms without ``SO_PEERCRED``.
        """
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            raise TcpError("the stream has no socket (it is closed)")
        peercred = getattr(socket, "SO_PEERCRED", None)
        if peercred is None or not sys.platform.startswith("linux"):
            raise TcpError("peer credentials (SO_PEERCRED) are not available on this platform")
        try:
            raw = sock.getsockopt(socket.SOL_SOCKET, peercred, _PEERCRED.size)
        except OSError as exc:
            raise TcpError(f"cannot read the peer's credentials: {exc}") from exc
        pid, uid, gid = _PEERCRED.unpack(raw)
        return PeerCredentials(pid=pid, uid=uid, gid=gid)

    def __repr__(self) -> str:
        info = self._extensions.get(SocketInfo)
        if info is None:
            return "UnixStream()"
        return f"UnixStream(local={_path_text(info.local)!r}, peer={_path_text(info.peer)!r})"
