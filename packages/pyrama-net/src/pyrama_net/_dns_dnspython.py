"""DnspythonResolver: a DNS client built on dnspython's asyncio resolver."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.resolver

from pyrama_core.errors import ConfigError
from pyrama_net._dns import DnsNoRecordsError, DnsTimeoutError, literal_ipv4, literal_ipv6
from pyrama_net.errors import DnsError

__all__ = ["DnspythonResolver"]

Nameserver = str | tuple[str, int]


class DnspythonResolver:
    """Talks DNS itself (UDP, TCP on truncation) using dnspython's asyncio resolver.

    *nameservers* lists the servers to ask, each an IP string (port 53), an ``(ip, port)``
    pair, or a DNS-over-HTTPS URL as dnspython understands it; ``None`` reads the system's
    ``/etc/resolv.conf``. *timeout* bounds one query to one server, *lifetime* a whole lookup
    (retries and every server included); both are seconds. *cache* keeps answers for their TTL
    in an LRU cache of that many entries (``0`` disables it). *tcp* asks over TCP only.

    Unlike :class:`pyrama_net.SystemResolver` it ignores ``/etc/hosts``. dnspython's exceptions
    are mapped here: NXDOMAIN and "no answer" raise :class:`pyrama_net.DnsNoRecordsError`, the
    deadline :class:`pyrama_net.DnsTimeoutError`, anything else
    :class:`~pyrama_net.errors.DnsError`; the original stays as ``__cause__``.
    """

    __slots__ = ("_lifetime", "_resolver", "_tcp")

    def __init__(
        self,
        nameservers: Sequence[Nameserver] | None = None,
        *,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        cache: int = 10_000,
        tcp: bool = False,
    ) -> None:
        if not timeout > 0 or not lifetime > 0:
            raise ConfigError(f"DNS timeout and lifetime must be > 0, got {timeout}, {lifetime}")
        if cache < 0:
            raise ConfigError(f"DNS cache size must be >= 0, got {cache}")
        if nameservers is None:
            try:
                resolver = dns.asyncresolver.Resolver(configure=True)
            except dns.exception.DNSException as exc:
                raise ConfigError(f"cannot read the system DNS configuration: {exc}") from exc
        else:
            if not nameservers:
                raise ConfigError("DnspythonResolver needs at least one nameserver")
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [_nameserver(ns) for ns in nameservers]
        resolver.timeout = timeout
        resolver.lifetime = lifetime
        if cache:
            resolver.cache = dns.resolver.LRUCache(cache)
        self._resolver = resolver
        self._lifetime = lifetime
        self._tcp = tcp

    async def _resolve(self, name: str, rtype: str) -> dns.resolver.Answer:
        try:
            return await self._resolver.resolve(name, rtype, tcp=self._tcp, search=False)
        except dns.resolver.NXDOMAIN as exc:
            raise DnsNoRecordsError(name, rtype, nxdomain=True) from exc
        except dns.resolver.NoAnswer as exc:
            raise DnsNoRecordsError(name, rtype) from exc
        except dns.exception.Timeout as exc:
            raise DnsTimeoutError(name, rtype, seconds=self._lifetime) from exc
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            raise DnsError(f"DNS lookup of {name!r} ({rtype}) failed: {exc}") from exc

    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        """Return the IPv4 addresses (A records, CNAMEs followed) of *name*."""
        lit = literal_ipv4(name)
        if lit is not None:
            return lit
        answer = await self._resolve(name, "A")
        out = [IPv4Address(rd.address) for rd in answer if isinstance(rd, dns.rdtypes.IN.A.A)]
        if not out:
            raise DnsNoRecordsError(name, "A")
        return out

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        """Return the IPv6 addresses (AAAA records, CNAMEs followed) of *name*."""
        lit = literal_ipv6(name)
        if lit is not None:
            return lit
        answer = await self._resolve(name, "AAAA")
        out = [IPv6Address(rd.address) for rd in answer if isinstance(rd, dns.rdtypes.IN.AAAA.AAAA)]
        if not out:
            raise DnsNoRecordsError(name, "AAAA")
        return out

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        """Return the TXT records of *name*; a record's strings are joined into one value."""
        answer = await self._resolve(name, "TXT")
        out = [b"".join(rd.strings) for rd in answer if isinstance(rd, dns.rdtypes.ANY.TXT.TXT)]
        if not out:
            raise DnsNoRecordsError(name, "TXT")
        return out

    def __repr__(self) -> str:
        servers = [str(ns) for ns in self._resolver.nameservers]
        return f"DnspythonResolver({servers!r})"


def _nameserver(ns: Nameserver) -> str | dns.nameserver.Nameserver:
    if isinstance(ns, tuple):
        host, port = ns
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise ConfigError(f"nameserver {host!r} is not an IP address") from exc
        if not 0 < port < 65536:
            raise ConfigError(f"nameserver port {port} is out of range")
        return dns.nameserver.Do53Nameserver(host, port)
    if "://" not in ns:
        try:
            ipaddress.ip_address(ns)
        except ValueError as exc:
            raise ConfigError(f"nameserver {ns!r} is neither an IP address nor a URL") from exc
    return ns
