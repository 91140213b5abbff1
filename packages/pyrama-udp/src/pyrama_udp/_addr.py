"""Address handling for UDP: name resolution and a cheap peer-address cache."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final

from pyrama_net import AddrLike, DnsResolver, SocketAddress, SystemResolver, coerce_address
from pyrama_net.errors import AddressError, DnsError

__all__ = ["AddrMap", "resolve"]

_SYSTEM_RESOLVER: Final = SystemResolver()


async def resolve(
    addr: AddrLike,
    *,
    resolver: DnsResolver | None = None,
    family: socket.AddressFamily | None = None,
) -> SocketAddress:
    """*addr* as a :class:`~pyrama_net.SocketAddress`, resolving a domain with *resolver*.

    With *family* only addresses of that family are looked up (an ``AF_INET6`` socket also
    reaches IPv4 peers through mapped addresses, so IPv4 is tried after IPv6 there); without
    it IPv4 is tried first, then IPv6. Raises :class:`~pyrama_net.errors.DnsError`.
    """
    a = coerce_address(addr)
    if isinstance(a, SocketAddress):
        return a
    ip = a.host.ip
    if ip is not None:
        return SocketAddress(ip, a.port)
    domain = a.host.domain
    assert domain is not None
    name = str(domain)
    r = _SYSTEM_RESOLVER if resolver is None else resolver
    order: tuple[str, ...] = ("v4", "v6")
    if family == socket.AF_INET:
        order = ("v4",)
    elif family == socket.AF_INET6:
        order = ("v6", "v4")
    last: DnsError | None = None
    for kind in order:
        try:
            ips: list[IPv4Address] | list[IPv6Address] = (
                await r.ipv4_lookup(name) if kind == "v4" else await r.ipv6_lookup(name)
            )
        except DnsError as exc:
            last = exc
            continue
        if ips:
            return SocketAddress(ips[0], a.port)
    if last is not None:
        raise last
    raise DnsError(f"{name!r} has no usable address")  # pragma: no cover - resolvers raise


_CACHE_LIMIT: Final[int] = 4096


class AddrMap:
    """Converts between socket-module tuples and SocketAddress for one socket, with caches.

    A UDP server sees the same peers again and again; parsing their addresses once instead
    of per datagram keeps the receive path cheap. Both caches are bounded (cleared when full).
    """

    __slots__ = ("_from_raw", "_to_raw", "family")

    def __init__(self, family: int) -> None:
        self.family = family
        self._from_raw: dict[Any, SocketAddress] = {}
        self._to_raw: dict[SocketAddress, Any] = {}

    def from_raw(self, raw: Any) -> SocketAddress:
        """The SocketAddress of a tuple the kernel reported."""
        addr = self._from_raw.get(raw)
        if addr is None:
            addr = SocketAddress.from_tuple(raw)
            if len(self._from_raw) >= _CACHE_LIMIT:
                self._from_raw.clear()
            self._from_raw[raw] = addr
        return addr

    def to_raw(self, addr: SocketAddress) -> Any:
        """The tuple to pass to ``sendto``/``connect`` on this socket.

        IPv4 addresses become IPv4-mapped IPv6 addresses on an ``AF_INET6`` socket; an IPv6
        address cannot be reached from an ``AF_INET`` socket (:class:`AddressError`).
        """
        raw = self._to_raw.get(addr)
        if raw is None:
            ip = addr.ip
            if self.family == socket.AF_INET6 and isinstance(ip, IPv4Address):
                raw = (f"::ffff:{ip}", addr.port, 0, 0)
            elif self.family == socket.AF_INET and isinstance(ip, IPv6Address):
                mapped = ip.ipv4_mapped
                if mapped is None:
                    raise AddressError(f"cannot reach IPv6 address {addr} from an IPv4 socket")
                raw = (str(mapped), addr.port)
            else:
                raw = addr.to_tuple()
            if len(self._to_raw) >= _CACHE_LIMIT:
                self._to_raw.clear()
            self._to_raw[addr] = raw
        return raw
