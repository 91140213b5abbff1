"""SocketAddress: an IP address and a port, the address of a socket."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from pyrama_net._address_util import (
    Invalid,
    address_error,
    check_port,
    parse_port,
    split_host_port,
)
from pyrama_net._authority import Authority
from pyrama_net._host import Host, IpAddress, check_ip, host_value
from pyrama_net.errors import AddressError

__all__ = ["SocketAddress"]

_LOCAL_V4 = IPv4Address("127.0.0.1")
_LOCAL_V6 = IPv6Address("::1")
_ANY_V4 = IPv4Address("0.0.0.0")
_ANY_V6 = IPv6Address("::")


@dataclass(frozen=True, slots=True)
class SocketAddress:
    """An IP address and a port: what ``bind``, ``connect`` and ``getsockname`` deal in.

    Text form is ``127.0.0.1:80`` or ``[::1]:443`` (zone as ``[fe80::1%25eth0]:443``); domains
    are refused, use :class:`~pyrama_net.Authority` for those. :meth:`to_tuple` and
    :meth:`from_tuple` convert to and from the tuples of the :mod:`socket` module.
    """

    ip: IPv4Address | IPv6Address
    """The IP address."""
    port: int
    """The port, ``0..65535``."""

    def __post_init__(self) -> None:
        check_ip(self.ip)
        check_port(self.port)

    @classmethod
    def parse(cls, text: str) -> SocketAddress:
        """Parse ``ipv4:port`` or ``[ipv6]:port``; the port is required."""
        if not isinstance(text, str):
            raise AddressError(f"a socket address must be a str, got {type(text).__name__}")
        try:
            host_text, port_text = split_host_port(text)
            ip = host_value(host_text)
            if not isinstance(ip, IPv4Address | IPv6Address):
                raise Invalid("a socket address needs an IP address, not a domain")
            if port_text is None:
                raise Invalid("the port is missing (expected ip:port)")
            port = parse_port(port_text)
        except Invalid as exc:
            raise address_error("socket address", text, exc.reason) from exc.__cause__
        return cls(ip, port)

    @classmethod
    def from_tuple(cls, sockaddr: object) -> SocketAddress:
        """Build from a :mod:`socket` address tuple.

        Accepts ``(host, port)`` (``AF_INET``, or ``AF_INET6`` as Python also allows) and
        ``(host, port, flowinfo, scope_id)`` (``AF_INET6``), as returned by ``getsockname``,
        ``getpeername``, ``accept`` and ``getaddrinfo``. A non-zero *scope_id* becomes the
        address's zone unless *host* already carries one (``fe80::1%eth0``). Anything else,
        such as a Unix socket path, raises :class:`~pyrama_net.errors.AddressError`.
        """
        if not isinstance(sockaddr, tuple) or len(sockaddr) not in (2, 4):
            raise AddressError(
                "expected a (host, port) or (host, port, flowinfo, scope_id) tuple, "
                f"got {sockaddr!r:.80}"
            )
        host, port = sockaddr[0], sockaddr[1]
        if not isinstance(host, str):
            raise AddressError(f"a socket address host must be a str, got {type(host).__name__}")
        try:
            ip = host_value(host)
        except Invalid as exc:
            raise address_error("socket address host", host, exc.reason) from exc.__cause__
        if not isinstance(ip, IPv4Address | IPv6Address):
            raise address_error("socket address host", host, "it is not an IP address")
        if len(sockaddr) == 4:
            scope = sockaddr[3]
            if not isinstance(ip, IPv6Address):
                raise AddressError(f"a 4-tuple socket address is IPv6, got host {host!r}")
            if isinstance(scope, bool) or not isinstance(scope, int) or scope < 0:
                raise AddressError(f"scope_id must be a non-negative int, got {scope!r}")
            if scope and ip.scope_id is None:
                ip = IPv6Address(f"{ip}%{scope}")
        return cls(ip, check_port(port))

    @classmethod
    def local_ipv4(cls, port: int) -> SocketAddress:
        """``127.0.0.1:port``."""
        return cls(_LOCAL_V4, port)

    @classmethod
    def local_ipv6(cls, port: int) -> SocketAddress:
        """``[::1]:port``."""
        return cls(_LOCAL_V6, port)

    @classmethod
    def any_ipv4(cls, port: int) -> SocketAddress:
        """``0.0.0.0:port``: every IPv4 interface (only bind there on purpose)."""
        return cls(_ANY_V4, port)

    @classmethod
    def any_ipv6(cls, port: int) -> SocketAddress:
        """``[::]:port``: every IPv6 interface (only bind there on purpose)."""
        return cls(_ANY_V6, port)

    def __str__(self) -> str:
        return f"{Host(self.ip).to_uri_str()}:{self.port}"

    @property
    def is_ipv4(self) -> bool:
        """Whether the address is IPv4."""
        return isinstance(self.ip, IPv4Address)

    @property
    def is_ipv6(self) -> bool:
        """Whether the address is IPv6."""
        return isinstance(self.ip, IPv6Address)

    @property
    def family(self) -> socket.AddressFamily:
        """``AF_INET`` or ``AF_INET6``."""
        return socket.AF_INET if isinstance(self.ip, IPv4Address) else socket.AF_INET6

    @property
    def host(self) -> Host:
        """The IP address as a :class:`~pyrama_net.Host`."""
        return Host(self.ip)

    def to_authority(self) -> Authority:
        """The same address as an :class:`~pyrama_net.Authority`."""
        return Authority(Host(self.ip), self.port)

    def to_tuple(self) -> tuple[str, int] | tuple[str, int, int, int]:
        """The tuple for ``socket.bind``/``connect``/``sendto``.

        ``(host, port)`` for IPv4 and ``(host, port, 0, scope_id)`` for IPv6, where a named
        zone is turned into its interface index (:func:`socket.if_nametoindex`); an unknown
        interface name raises :class:`~pyrama_net.errors.AddressError`.
        """
        ip: IpAddress = self.ip
        if isinstance(ip, IPv4Address):
            return (str(ip), self.port)
        zone = ip.scope_id
        scope = 0
        if zone is not None:
            if zone.isdigit():
                scope = int(zone)
            else:
                try:
                    scope = socket.if_nametoindex(zone)
                except OSError as exc:
                    raise AddressError(f"unknown network interface {zone!r} in {self}") from exc
        return (str(IPv6Address(int(ip))), self.port, 0, scope)
