"""Turning the address forms listeners accept into a SocketAddress (no DNS for binds)."""

from __future__ import annotations

from typing import TypeAlias

from pyrama_net import Authority, SocketAddress
from pyrama_net.errors import AddressError

__all__ = ["AddrLike", "to_bind_address"]

AddrLike: TypeAlias = "str | SocketAddress | Authority | tuple[str, int]"
"""An address to bind: ``"127.0.0.1:8080"``, ``"[::1]:0"``, ``"localhost:8080"``, a
:class:`~pyrama_net.SocketAddress`, an IP :class:`~pyrama_net.Authority` or ``(ip, port)``."""


def to_bind_address(addr: AddrLike) -> SocketAddress:
    """Return *addr* as a :class:`~pyrama_net.SocketAddress`.

    Binding needs an IP address: a ``localhost`` name means ``127.0.0.1``; any other domain
    raises :class:`~pyrama_net.errors.AddressError` (resolve it yourself and pick the
    address you mean, since a name can stand for several interfaces).
    """
    if isinstance(addr, SocketAddress):
        return addr
    if isinstance(addr, tuple):
        if len(addr) == 2 and addr[0] == "localhost":
            return SocketAddress.local_ipv4(addr[1])
        return SocketAddress.from_tuple(addr)
    if isinstance(addr, str):
        addr = Authority.parse(addr)
    if isinstance(addr, Authority):
        ip = addr.host.ip
        if ip is not None:
            return SocketAddress(ip, addr.port)
        if addr.host.is_loopback:
            return SocketAddress.local_ipv4(addr.port)
        raise AddressError(f"cannot bind to the domain {addr} (give an IP address)")
    raise AddressError(f"expected an address to bind, got {type(addr).__name__}")
