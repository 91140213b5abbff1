"""TcpSocketOptions: the socket options a TcpConnector sets on each socket before connecting."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
from dataclasses import dataclass

from pyrama_core.errors import ConfigError
from pyrama_net.errors import ConnectError

__all__ = ["TcpSocketOptions"]

# Linux's value; older Pythons do not name it.
_IP_BIND_ADDRESS_NO_PORT: int | None = getattr(
    socket, "IP_BIND_ADDRESS_NO_PORT", 24 if sys.platform.startswith("linux") else None
)
_TCP_KEEPIDLE: int | None = getattr(socket, "TCP_KEEPIDLE", None) or getattr(
    socket, "TCP_KEEPALIVE", None
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpSocketOptions:
    """Socket options for outgoing TCP connections (all applied before ``connect``).

    * *nodelay*: ``TCP_NODELAY`` (on by default: small writes leave at once).
    * *keepalive*: ``SO_KEEPALIVE``; *keepalive_idle* / *keepalive_interval* (seconds) and
      *keepalive_count* tune the probes and require *keepalive*.
    * *recv_buffer_size* / *send_buffer_size*: ``SO_RCVBUF`` / ``SO_SNDBUF`` in bytes (the
      kernel may round or double them).
    * *linger*: ``SO_LINGER`` seconds; ``0`` makes close send RST instead of FIN.
    * *user_timeout*: ``TCP_USER_TIMEOUT`` milliseconds unacknowledged data may wait (Linux).
    * *mark*: ``SO_MARK`` firewall/routing mark (Linux, needs ``CAP_NET_ADMIN``).
    * *bind_device*: ``SO_BINDTODEVICE`` interface name (Linux).
    * *reuse_address*: ``SO_REUSEADDR``, for connectors bound to a fixed local port.
    * *bind_address_no_port*: ``IP_BIND_ADDRESS_NO_PORT`` when binding to a local IP with port
      0 (Linux): the kernel picks the port at ``connect`` time, so many connections from one
      source address do not exhaust ephemeral ports. Ignored where unsupported.

    Asking for an option the platform lacks raises :class:`~pyrama_core.errors.ConfigError`;
    the kernel refusing a value raises :class:`~pyrama_net.errors.ConnectError` with the
    ``OSError`` as its cause.
    """

    nodelay: bool = True
    keepalive: bool = False
    keepalive_idle: int | None = None
    keepalive_interval: int | None = None
    keepalive_count: int | None = None
    recv_buffer_size: int | None = None
    send_buffer_size: int | None = None
    linger: int | None = None
    user_timeout: int | None = None
    mark: int | None = None
    bind_device: str | None = None
    reuse_address: bool = False
    bind_address_no_port: bool = True

    def __post_init__(self) -> None:
        for name in ("keepalive_idle", "keepalive_interval", "keepalive_count"):
            value = getattr(self, name)
            if value is not None:
                if not self.keepalive:
                    raise ConfigError(f"{name} needs keepalive=True")
                _check_int(name, value, minimum=1)
        for name in ("recv_buffer_size", "send_buffer_size"):
            value = getattr(self, name)
            if value is not None:
                _check_int(name, value, minimum=1)
        for name in ("linger", "user_timeout", "mark"):
            value = getattr(self, name)
            if value is not None:
                _check_int(name, value, minimum=0)
        if self.bind_device is not None and not self.bind_device:
            raise ConfigError("bind_device must be an interface name, got ''")

    def apply(self, sock: socket.socket, *, binding_port_zero: bool = False) -> None:
        """Set these options on *sock* (an unconnected TCP socket).

        *binding_port_zero* says the socket is about to be bound to a local IP with port 0,
        which is when ``IP_BIND_ADDRESS_NO_PORT`` helps.
        """
        tcp, sol = socket.IPPROTO_TCP, socket.SOL_SOCKET
        self._set(sock, tcp, socket.TCP_NODELAY, int(self.nodelay), "TCP_NODELAY")
        if self.keepalive:
            self._set(sock, sol, socket.SO_KEEPALIVE, 1, "SO_KEEPALIVE")
            for opt, name, value in (
                (_TCP_KEEPIDLE, "TCP_KEEPIDLE", self.keepalive_idle),
                (getattr(socket, "TCP_KEEPINTVL", None), "TCP_KEEPINTVL", self.keepalive_interval),
                (getattr(socket, "TCP_KEEPCNT", None), "TCP_KEEPCNT", self.keepalive_count),
            ):
                if value is not None:
                    self._set(sock, tcp, _need(opt, name), value, name)
        if self.recv_buffer_size is not None:
            self._set(sock, sol, socket.SO_RCVBUF, self.recv_buffer_size, "SO_RCVBUF")
        if self.send_buffer_size is not None:
            self._set(sock, sol, socket.SO_SNDBUF, self.send_buffer_size, "SO_SNDBUF")
        if self.linger is not None:
            packed = struct.pack("ii", 1, self.linger)
            self._set(sock, sol, socket.SO_LINGER, packed, "SO_LINGER")
        if self.user_timeout is not None:
            opt = _need(getattr(socket, "TCP_USER_TIMEOUT", None), "TCP_USER_TIMEOUT")
            self._set(sock, tcp, opt, self.user_timeout, "TCP_USER_TIMEOUT")
        if self.mark is not None:
            opt = _need(getattr(socket, "SO_MARK", None), "SO_MARK")
            self._set(sock, sol, opt, self.mark, "SO_MARK")
        if self.bind_device is not None:
            opt = _need(getattr(socket, "SO_BINDTODEVICE", None), "SO_BINDTODEVICE")
            self._set(sock, sol, opt, self.bind_device.encode(), "SO_BINDTODEVICE")
        if self.reuse_address:
            self._set(sock, sol, socket.SO_REUSEADDR, 1, "SO_REUSEADDR")
        if binding_port_zero and self.bind_address_no_port and _IP_BIND_ADDRESS_NO_PORT:
            # only an optimisation: the bind still works without it
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)

    @staticmethod
    def _set(sock: socket.socket, level: int, opt: int, value: int | bytes, name: str) -> None:
        try:
            sock.setsockopt(level, opt, value)
        except OSError as exc:
            raise ConnectError(
                exc.errno, f"setting {name}={value!r} failed: {exc.strerror or exc}"
            ) from exc


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}")


def _need(opt: int | None, name: str) -> int:
    if opt is None:
        raise ConfigError(f"socket option {name} is not supported on {sys.platform}")
    return opt
