"""UnixListener: serve a stream service on a Unix domain socket (same machinery as TCP)."""

from __future__ import annotations

import errno
import os
import socket
import stat
from typing import Final

from pyrama_core.errors import ConfigError
from pyrama_tcp._listener import DEFAULT_BACKLOG, _SocketListener
from pyrama_tcp.errors import AddressInUseError, BindError
from pyrama_tcp.unix._stream import UnixPath, UnixStream

__all__ = ["DEFAULT_UNIX_MODE", "UnixListener"]

DEFAULT_UNIX_MODE: Final[int] = 0o600
"""Permissions of a new socket file unless told otherwise: only the owner may connect."""


def _is_abstract(path: str | bytes) -> bool:
    return path[:1] in ("\0", b"\0")


def _probe_stale(path: str | bytes) -> bool:
    """Whether the socket file at *path* has no listener behind it (it is safe to remove)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.setblocking(False)
        probe.connect(path)
    except ConnectionRefusedError:
        return True  # a socket file nobody listens on: left behind by a dead process
    except FileNotFoundError:
        return False  # vanished meanwhile; nothing to remove
    except BlockingIOError:
        return False  # a live listener whose backlog is full
    except OSError as exc:
        raise BindError(exc.errno or 0, f"cannot check Unix socket {path!r}: {exc}") from exc
    finally:
        probe.close()
    return False  # connected: a live listener


def _clear_stale(path: str | bytes) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise AddressInUseError(
            errno.EADDRINUSE, f"{path!r} exists and is not a socket; refusing to replace it"
        )
    if not _probe_stale(path):
        raise AddressInUseError(errno.EADDRINUSE, f"Unix socket {path!r} is in use")
    try:
        again = os.lstat(path)
        # unlink only the very file we probed, not one a racing process just created
        if (again.st_dev, again.st_ino) == (st.st_dev, st.st_ino):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _bind(sock: socket.socket, path: str | bytes, mode: int | None) -> None:
    if mode is None or _is_abstract(path):
        sock.bind(path)
        return
    # The file must never exist with wider permissions than asked for, not even between
    # bind() and chmod(): narrow the umask for the bind (only ever narrowing it, since it is
    # process-wide), then set the exact mode.
    old = os.umask(0o177)
    try:
        os.umask(old | (~mode & 0o777))
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, mode)


class UnixListener(_SocketListener[UnixStream]):
    """A Unix domain socket listener that serves a ``Service[UnixStream, Any]``.

    It shares everything with :class:`~pyrama_tcp.TcpListener` (``serve``,
    ``serve_graceful``, ``max_connections``, ``timeout``, graceful shutdown, accept
    back-off); only binding differs: see :meth:`bind`. Closing the listener removes the
    socket file it created.
    """

    __slots__ = ("_file_id", "_path")

    def __init__(
        self,
        sock: socket.socket,
        path: str | bytes,
        file_id: tuple[int, int] | None = None,
    ) -> None:
        """Wrap a bound, listening ``AF_UNIX`` socket (use :meth:`bind` or :meth:`from_socket`).

        *file_id* is ``(st_dev, st_ino)`` of the socket file to remove on close, if any.
        """
        super().__init__(sock, UnixStream)
        self._path = path
        self._file_id = file_id

    @classmethod
    async def bind(
        cls,
        path: UnixPath,
        *,
        mode: int | None = DEFAULT_UNIX_MODE,
        backlog: int = DEFAULT_BACKLOG,
        remove_stale: bool = True,
    ) -> UnixListener:
        """Listen on the Unix socket *path*.

        * *mode*: permissions of the socket file (default ``0o600``: owner only; ``None``
          leaves them to the umask). The file never exists with wider permissions.
        * *remove_stale*: a socket file left behind by a dead process (connecting to it is
          refused) is removed first. A live listener's socket is never touched
          (:class:`~pyrama_tcp.errors.AddressInUseError`), nor is a path that is not a socket.

        On Linux a path starting with NUL is an abstract socket (no file, no mode). Raises
        :class:`~pyrama_tcp.errors.BindError` when binding fails (path too long, missing
        directory, permission denied).
        """
        if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
            raise ConfigError(f"backlog must be an int >= 1, got {backlog!r}")
        if mode is not None and (
            isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777
        ):
            raise ConfigError(f"mode must be permission bits (0 to 0o777) or None, got {mode!r}")
        p: str | bytes = path if isinstance(path, bytes) else os.fspath(path)
        if not p:
            raise ConfigError("a Unix socket path must not be empty")
        abstract = _is_abstract(p)
        if remove_stale and not abstract:
            _clear_stale(p)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _bind(sock, p, mode)
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            err = AddressInUseError if exc.errno == errno.EADDRINUSE else BindError
            raise err(exc.errno or 0, f"cannot listen on Unix socket {p!r}: {exc}") from exc
        file_id = None
        if not abstract:
            st = os.lstat(p)
            file_id = (st.st_dev, st.st_ino)
        return cls(sock, p, file_id)

    @classmethod
    def from_socket(cls, sock: socket.socket, *, remove_on_close: bool = False) -> UnixListener:
        """Adopt a bound, listening ``AF_UNIX`` stream socket (e.g. from socket activation).

        Its file is removed on close only with *remove_on_close*.
        """
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
            raise ConfigError("from_socket needs an AF_UNIX SOCK_STREAM socket")
        path = sock.getsockname()
        file_id = None
        if remove_on_close and path and not _is_abstract(path):
            st = os.lstat(path)
            file_id = (st.st_dev, st.st_ino)
        return cls(sock, path, file_id)

    @property
    def path(self) -> str | bytes:
        """The socket's path (for an abstract socket, its name with the leading NUL)."""
        return self._path

    @property
    def local_addr(self) -> str | bytes:
        """Same as :attr:`path` (the name :class:`~pyrama_tcp.TcpListener` uses)."""
        return self._path

    def _after_close(self) -> None:
        file_id = self._file_id
        if file_id is None:
            return
        self._file_id = None
        try:
            st = os.lstat(self._path)
            # remove our socket file only: another listener may have replaced it since
            if (st.st_dev, st.st_ino) == file_id:
                os.unlink(self._path)
        except FileNotFoundError:
            pass

    def __repr__(self) -> str:
        return f"UnixListener(path={self._path!r})"
