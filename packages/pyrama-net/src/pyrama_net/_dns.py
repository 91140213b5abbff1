"""DNS: the resolver protocol, its errors, and the resolvers that need no third-party code.

Every resolver answers three questions about a name: its IPv4 addresses (A), its IPv6
addresses (AAAA) and its TXT records. A lookup never returns an empty list: "no such name" and
"no records of that type" raise :class:`DnsNoRecordsError`, every other failure raises
:class:`~pyrama_net.errors.DnsError` (:class:`DnsTimeoutError` for a deadline). An IP literal
(``"127.0.0.1"``, ``"::1"``, ``"[::1]"``) is answered from the name itself by every resolver
here, without a lookup.

The dnspython resolver lives in ``_dns_dnspython.py``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol, TypeVar, runtime_checkable

from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net.errors import DnsError

__all__ = [
    "ChainResolver",
    "DenyAllResolver",
    "DnsNoRecordsError",
    "DnsOverrides",
    "DnsResolver",
    "DnsTimeoutError",
    "StaticResolver",
    "SystemResolver",
    "ip_literal",
]

IPAddress = IPv4Address | IPv6Address
T = TypeVar("T")


class DnsNoRecordsError(DnsError):
    """The name has no records of the asked type, or does not exist at all.

    :attr:`name` is the name looked up, :attr:`record_type` the record type (``"A"``,
    ``"AAAA"``, ``"TXT"``, or ``"A+AAAA"`` when both families came back empty), and
    :attr:`nxdomain` is true when the name itself does not exist (NXDOMAIN) rather than merely
    having no records of that type.
    """

    def __init__(self, name: str, record_type: str, *, nxdomain: bool = False) -> None:
        what = "no such name" if nxdomain else f"no {record_type} records"
        super().__init__(f"DNS lookup of {name!r} ({record_type}): {what}")
        self.name = name
        self.record_type = record_type
        self.nxdomain = nxdomain


class DnsTimeoutError(DnsError, PyramaTimeoutError):
    """A DNS lookup did not finish within its deadline (also a builtin ``TimeoutError``)."""

    def __init__(self, name: str, record_type: str, *, seconds: float | None = None) -> None:
        after = f" after {seconds:g}s" if seconds is not None else ""
        PyramaTimeoutError.__init__(
            self, f"DNS lookup of {name!r} ({record_type}) timed out{after}", seconds=seconds
        )
        self.name = name
        self.record_type = record_type


@runtime_checkable
class DnsResolver(Protocol):
    """Resolves names to addresses and TXT records.

    Implementations raise :class:`DnsNoRecordsError` when there is nothing to return (they never
    return an empty list) and :class:`~pyrama_net.errors.DnsError` for any other failure, with
    the name in the message.
    """

    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        """Return the IPv4 addresses (A records) of *name*."""
        ...

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        """Return the IPv6 addresses (AAAA records) of *name*."""
        ...

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        """Return the TXT records of *name*, each record's strings joined into one value."""
        ...


def ip_literal(name: str) -> IPv4Address | IPv6Address | None:
    """Return the address when *name* is an IP literal (``"::1"`` or ``"[::1]"``), else ``None``."""
    text = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    if not text or not (text[0].isdigit() or ":" in text):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def literal_ipv4(name: str) -> list[IPv4Address] | None:
    """Answer an A lookup from an IP literal name: ``None`` when *name* is not a literal.

    An IPv6 literal has no IPv4 address and raises :class:`DnsNoRecordsError`.
    """
    ip = ip_literal(name)
    if ip is None:
        return None
    if isinstance(ip, IPv4Address):
        return [ip]
    raise DnsNoRecordsError(name, "A")


def literal_ipv6(name: str) -> list[IPv6Address] | None:
    """Answer an AAAA lookup from an IP literal name: ``None`` when *name* is not a literal.

    An IPv4 literal has no IPv6 address and raises :class:`DnsNoRecordsError`.
    """
    ip = ip_literal(name)
    if ip is None:
        return None
    if isinstance(ip, IPv6Address):
        return [ip]
    raise DnsNoRecordsError(name, "AAAA")


def _normalize(name: str) -> str:
    """The form names are compared in: lower case, no trailing dot."""
    return name.rstrip(".").lower()


def _dedupe(addrs: Iterable[IPAddress]) -> list[IPAddress]:
    seen: set[IPAddress] = set()
    out: list[IPAddress] = []
    for a in addrs:
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


# --- the system resolver (getaddrinfo) --------------------------------------------------------

_NO_RECORDS_GAI = frozenset(
    code
    for code in (
        getattr(socket, "EAI_NONAME", None),
        getattr(socket, "EAI_NODATA", None),
        getattr(socket, "EAI_ADDRFAMILY", None),
    )
    if code is not None
)


class SystemResolver:
    """Resolves through the operating system (``getaddrinfo``), like every other local program.

    It honours ``/etc/hosts``, ``nsswitch.conf``, mDNS and VPN split-DNS, which is why
    :class:`pyrama_tcp.TcpConnector` uses it by default. ``getaddrinfo`` blocks, so asyncio runs
    it in the default thread pool; *timeout* (seconds, ``None`` = the OS's own limits) bounds
    each lookup. The OS offers no TXT lookup: :meth:`txt_lookup` raises
    :class:`~pyrama_net.errors.DnsError` (use :class:`pyrama_net.DnspythonResolver`).
    """

    __slots__ = ("_timeout",)

    def __init__(self, *, timeout: float | None = None) -> None:
        if timeout is not None and not timeout > 0:
            raise ConfigError(f"SystemResolver timeout must be > 0 seconds, got {timeout!r}")
        self._timeout = timeout

    async def _lookup(self, name: str, family: socket.AddressFamily, rtype: str) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                infos = await loop.getaddrinfo(
                    name, None, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
        except socket.gaierror as exc:
            if exc.errno in _NO_RECORDS_GAI:
                raise DnsNoRecordsError(name, rtype) from exc
            raise DnsError(f"DNS lookup of {name!r} ({rtype}) failed: {exc}") from exc
        except TimeoutError as exc:
            raise DnsTimeoutError(name, rtype, seconds=self._timeout) from exc
        except (OSError, UnicodeError) as exc:
            raise DnsError(f"DNS lookup of {name!r} ({rtype}) failed: {exc}") from exc
        hosts = [str(sockaddr[0]) for fam, _, _, _, sockaddr in infos if fam == family]
        if not hosts:
            raise DnsNoRecordsError(name, rtype)
        return hosts

    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        """Return the IPv4 addresses of *name* as the OS resolves them."""
        lit = literal_ipv4(name)
        if lit is not None:
            return lit
        hosts = await self._lookup(name, socket.AF_INET, "A")
        return [a for a in _dedupe(IPv4Address(h) for h in hosts) if isinstance(a, IPv4Address)]

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        """Return the IPv6 addresses of *name* as the OS resolves them (scope ids kept)."""
        lit = literal_ipv6(name)
        if lit is not None:
            return lit
        hosts = await self._lookup(name, socket.AF_INET6, "AAAA")
        return [a for a in _dedupe(IPv6Address(h) for h in hosts) if isinstance(a, IPv6Address)]

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        """Always raises: the OS resolver cannot look up TXT records."""
        raise DnsError(
            f"DNS lookup of {name!r} (TXT): the system resolver cannot look up TXT records"
        )

    def __repr__(self) -> str:
        return f"SystemResolver(timeout={self._timeout!r})"


# --- static answers and overrides -------------------------------------------------------------


class DnsOverrides:
    """Fixed answers for some names, like curl's ``--resolve``; other names go to *fallback*.

    ``DnsOverrides({"example.com": ["127.0.0.1", "::1"]}, fallback=SystemResolver())`` answers
    ``example.com`` (any case, with or without trailing dot) from the mapping and asks the
    fallback about every other name. An overridden name is answered only from the mapping: if
    it lists no IPv6 address, its AAAA lookup raises :class:`DnsNoRecordsError` rather than
    asking the fallback. *txt* overrides TXT lookups the same way. Without a fallback, a name
    that is not overridden raises :class:`DnsNoRecordsError` (NXDOMAIN).

    Unlike curl's ``host:port:addr`` this has no port: a resolver is asked about names only.
    """

    __slots__ = ("_fallback", "_ips", "_txt")

    def __init__(
        self,
        ips: Mapping[str, Iterable[str | IPAddress]] | None = None,
        *,
        txt: Mapping[str, Iterable[bytes | str]] | None = None,
        fallback: DnsResolver | None = None,
    ) -> None:
        self._ips: dict[str, list[IPAddress]] = {}
        for name, addrs in (ips or {}).items():
            parsed: list[IPAddress] = []
            for a in addrs:
                try:
                    parsed.append(a if not isinstance(a, str) else ipaddress.ip_address(a))
                except ValueError as exc:
                    raise ConfigError(f"DNS override for {name!r}: {a!r} is not an IP") from exc
            self._ips[_normalize(name)] = _dedupe(parsed)
        self._txt: dict[str, list[bytes]] = {
            _normalize(name): [t.encode() if isinstance(t, str) else bytes(t) for t in records]
            for name, records in (txt or {}).items()
        }
        self._fallback = fallback

    @property
    def fallback(self) -> DnsResolver | None:
        """The resolver asked about names that are not overridden."""
        return self._fallback

    def _missing(self, name: str, rtype: str) -> DnsNoRecordsError:
        return DnsNoRecordsError(name, rtype, nxdomain=True)

    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        """Return the overridden IPv4 addresses of *name*, or ask the fallback."""
        lit = literal_ipv4(name)
        if lit is not None:
            return lit
        addrs = self._ips.get(_normalize(name))
        if addrs is None:
            if self._fallback is None:
                raise self._missing(name, "A")
            return await self._fallback.ipv4_lookup(name)
        v4 = [a for a in addrs if isinstance(a, IPv4Address)]
        if not v4:
            raise DnsNoRecordsError(name, "A")
        return v4

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        """Return the overridden IPv6 addresses of *name*, or ask the fallback."""
        lit = literal_ipv6(name)
        if lit is not None:
            return lit
        addrs = self._ips.get(_normalize(name))
        if addrs is None:
            if self._fallback is None:
                raise self._missing(name, "AAAA")
            return await self._fallback.ipv6_lookup(name)
        v6 = [a for a in addrs if isinstance(a, IPv6Address)]
        if not v6:
            raise DnsNoRecordsError(name, "AAAA")
        return v6

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        """Return the overridden TXT records of *name*, or ask the fallback."""
        records = self._txt.get(_normalize(name))
        if records is None:
            if self._fallback is None:
                raise self._missing(name, "TXT")
            return await self._fallback.txt_lookup(name)
        if not records:
            raise DnsNoRecordsError(name, "TXT")
        return list(records)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({sorted(self._ips)!r}, fallback={self._fallback!r})"


class StaticResolver(DnsOverrides):
    """A resolver that knows only the names it was given (no fallback): for tests and pinning."""

    __slots__ = ()

    def __init__(
        self,
        ips: Mapping[str, Iterable[str | IPAddress]] | None = None,
        *,
        txt: Mapping[str, Iterable[bytes | str]] | None = None,
    ) -> None:
        super().__init__(ips, txt=txt, fallback=None)


class DenyAllResolver:
    """Refuses every lookup with :class:`~pyrama_net.errors.DnsError`.

    IP literals are still answered (they need no lookup), so a service behind it can connect to
    addresses but never resolve names: useful for proxies that must not leak DNS queries.
    """

    __slots__ = ()

    def _deny(self, name: str, rtype: str) -> DnsError:
        return DnsError(f"DNS lookup of {name!r} ({rtype}) denied: DNS is disabled")

    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        """Answer IP literals; refuse everything else."""
        lit = literal_ipv4(name)
        if lit is None:
            raise self._deny(name, "A")
        return lit

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        """Answer IP literals; refuse everything else."""
        lit = literal_ipv6(name)
        if lit is None:
            raise self._deny(name, "AAAA")
        return lit

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        """Refuse."""
        raise self._deny(name, "TXT")

    def __repr__(self) -> str:
        return "DenyAllResolver()"


class ChainResolver:
    """Asks resolvers in order; the first answer wins.

    A resolver that raises :class:`~pyrama_net.errors.DnsError` (including "no records") passes
    the question to the next one. When all fail, one error is raised, with every error
    kept in an ``ExceptionGroup`` as its ``__cause__``: :class:`DnsNoRecordsError` when every
    resolver said "no records", else :class:`~pyrama_net.errors.DnsError`.
    """

    __slots__ = ("_resolvers",)

    def __init__(self, resolvers: Sequence[DnsResolver]) -> None:
        if not resolvers:
            raise ConfigError("ChainResolver needs at least one resolver")
        self._resolvers = tuple(resolvers)

    async def _ask(
        self, name: str, rtype: str, ask: Callable[[DnsResolver], Awaitable[list[T]]]
    ) -> list[T]:
        errors: list[DnsError] = []
        for r in self._resolvers:
            try:
                return await ask(r)
            except DnsError as exc:
                errors.append(exc)
        group = ExceptionGroup(f"every resolver failed for {name!r} ({rtype})", errors)
        if all(isinstance(e, DnsNoRecordsError) for e in errors):
            nx = all(isinstance(e, DnsNoRecordsError) and e.nxdomain for e in errors)
            raise DnsNoRecordsError(name, rtype, nxdomain=nx) from group
        detail = "; ".join(str(e) for e in errors)
        raise DnsError(f"DNS lookup of {name!r} ({rtype}) failed: {detail}") from group

    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        """Return the first IPv4 answer any resolver gives."""
        return await self._ask(name, "A", lambda r: r.ipv4_lookup(name))

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        """Return the first IPv6 answer any resolver gives."""
        return await self._ask(name, "AAAA", lambda r: r.ipv6_lookup(name))

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        """Return the first TXT answer any resolver gives."""
        return await self._ask(name, "TXT", lambda r: r.txt_lookup(name))

    def __repr__(self) -> str:
        return f"ChainResolver({list(self._resolvers)!r})"
