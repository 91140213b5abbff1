"""The address forms listeners and sockets accept, and turning them into a SocketAddress."""

from __future__ import annotations

from typing import TypeAlias

from pyrama_net._authority import Authority
from pyrama_net._socket_address import SocketAddress
from pyrama_net.errors import AddressError

__all__ = ["AddrLike", "coerce_address", "to_bind_address"]

AddrLike: TypeAlias = "str | SocketAddress | Authority | tuple[str, int]"
"""An address: ``"127.0.0.1:8080"``, ``"[::1]:0"``, ``"localhost:8080"``, ``"dns.example:53"``,
a :class:`~pyrama_net.SocketAddress`, an :class:`~pyrama_net.Authority` or ``(host, port)``."""


def coerce_address(addr: AddrLike) -> SocketAddress | Authority:
    """Parse *addr* into a :class:`SocketAddress` (IP) or an :class:`Authority` (domain)."""
    if isinstance(addr, SocketAddress | Authority):
        return addr
    if isinstance(addr, str):
        return Authority.parse(addr)
    if isinstance(addr, tuple):
        try:
            return SocketAddress.from_tuple(addr)
        except AddressError:
            if len(addr) == 2 and isinstance(addr[0], str) and isinstance(addr[1], int):
                return Authority.parse_with_default(addr[0], addr[1])
            raise
    raise AddressError(f"expected an address, got {type(addr).__name__}")


def to_bind_address(addr: AddrLike) -> SocketAddress:
    """*addr* as a :class:`SocketAddress` to bind: an IP address, or ``localhost``.

    ``localhost`` means ``127.0.0.1``. Any other domain raises
    :class:`~pyrama_net.errors.AddressError`: a name may stand for several interfaces, so
    the caller resolves it and picks the address it means.
    """
    a = coerce_address(addr)
    if isinstance(a, SocketAddress):
        return a
    ip = a.host.ip
    if ip is not None:
        return SocketAddress(ip, a.port)
    if a.host.is_loopback:
        return SocketAddress.local_ipv4(a.port)
    raise AddressError(f"cannot bind to the domain {a} (give an IP address)")
