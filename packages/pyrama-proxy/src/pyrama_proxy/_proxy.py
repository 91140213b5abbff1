"""Proxy records and the filter that selects them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from pyrama_core.errors import ConfigError
from pyrama_net import Authority, Basic, ProxyAddress

__all__ = ["Proxy", "ProxyFilter", "normalize_value"]


def normalize_value(value: str) -> str:
    """The form in which proxy attributes are compared: trimmed, case-folded, spaces as ``_``.

    ``"New York"``, ``"new_york"`` and ``" NEW YORK "`` all normalize to ``"new_york"``, so a
    username label (which cannot hold spaces) matches a CSV row that spells the city with one.
    """
    return "_".join(value.strip().casefold().split())


def _opt_str(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"proxy field {name!r} must be a str or None, got {type(value).__name__}")
    stripped = value.strip()
    return stripped or None


_STRING_ATTRS = ("pool_id", "continent", "country", "state", "city", "carrier")
_KIND_ATTRS = ("tcp", "udp", "http", "https", "socks5", "socks5h")
_CLASS_ATTRS = ("datacenter", "residential", "mobile")


@dataclass(frozen=True, slots=True)
class Proxy:
    """One upstream proxy and what is known about it.

    The ``tcp`` ... ``socks5h`` flags say which kinds of traffic it carries; ``datacenter``,
    ``residential`` and ``mobile`` classify its exit IPs; the location, carrier and ASN fields
    describe where traffic leaves. String attributes are kept as given (trimmed; empty becomes
    ``None``) and compared through :func:`normalize_value`, so matching is case-insensitive.
    """

    id: str
    """Unique, non-empty identifier of the proxy within its database."""
    address: ProxyAddress
    """Where the proxy is, its protocol and the credentials to present to it."""
    tcp: bool = False
    """Carries TCP (CONNECT-style tunnels)."""
    udp: bool = False
    """Carries UDP (SOCKS5 UDP ASSOCIATE)."""
    http: bool = False
    """Speaks HTTP proxying (absolute-form requests / CONNECT)."""
    https: bool = False
    """Speaks HTTP proxying over TLS."""
    socks5: bool = False
    """Speaks SOCKS5 with client-side name resolution."""
    socks5h: bool = False
    """Speaks SOCKS5 with proxy-side name resolution."""
    datacenter: bool = False
    """Its exit IPs are datacenter IPs."""
    residential: bool = False
    """Its exit IPs are residential IPs."""
    mobile: bool = False
    """Its exit IPs are mobile-network IPs."""
    pool_id: str | None = None
    """The pool (provider account, group) it belongs to."""
    continent: str | None = None
    """Continent of the exit, e.g. ``europe``."""
    country: str | None = None
    """Country of the exit, e.g. ``us``."""
    state: str | None = None
    """State or region of the exit."""
    city: str | None = None
    """City of the exit, e.g. ``new_york``."""
    carrier: str | None = None
    """Network carrier of the exit, e.g. ``comcast``."""
    asn: int | None = None
    """Autonomous system number of the exit (``0..4294967295``)."""

    def __post_init__(self) -> None:
        ident: object = self.id
        if not isinstance(ident, str) or not ident.strip():
            raise ConfigError("a proxy id must be a non-empty str")
        object.__setattr__(self, "id", ident.strip())
        if not isinstance(self.address, ProxyAddress):
            raise ConfigError("a proxy address must be a pyrama_net.ProxyAddress")
        for name in (*_KIND_ATTRS, *_CLASS_ATTRS):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"proxy field {name!r} must be a bool")
        for name in _STRING_ATTRS:
            object.__setattr__(self, name, _opt_str(name, getattr(self, name)))
        asn: object = self.asn
        if asn is not None and (
            not isinstance(asn, int) or isinstance(asn, bool) or not 0 <= asn <= 0xFFFF_FFFF
        ):
            raise ConfigError("a proxy asn must be an int in 0..4294967295 or None")

    @property
    def authority(self) -> Authority:
        """Host and port of the proxy."""
        return self.address.authority

    @property
    def credential(self) -> Basic | None:
        """The credentials presented to the proxy (part of :attr:`address`), or ``None``."""
        return self.address.credential

    def __repr__(self) -> str:
        # ProxyAddress's repr already redacts the password.
        return f"Proxy(id={self.id!r}, address={self.address!r})"


def _str_values(name: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    items: Iterable[object] = (value,) if isinstance(value, str) else _iterable(name, value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"ProxyFilter.{name} values must be str, got {type(item).__name__}")
        norm = normalize_value(item)
        if not norm:
            raise ConfigError(f"ProxyFilter.{name} has an empty value")
        if norm not in out:
            out.append(norm)
    if not out:
        raise ConfigError(f"ProxyFilter.{name} is an empty list (use None to accept any)")
    return tuple(out)


def _iterable(name: str, value: object) -> Iterable[object]:
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
        raise ConfigError(f"ProxyFilter.{name} must be a str, a list of values or None")
    return value


def _asn_values(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    items: Iterable[object] = (value,) if isinstance(value, int) else _iterable("asn", value)
    out: list[int] = []
    for item in items:
        if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 0xFFFF_FFFF:
            raise ConfigError("ProxyFilter.asn values must be ints in 0..4294967295")
        if item not in out:
            out.append(item)
    if not out:
        raise ConfigError("ProxyFilter.asn is an empty list (use None to accept any)")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ProxyFilter:
    """Which proxies are acceptable; every field is optional (``None`` accepts anything).

    A list field accepts a proxy whose attribute equals any of its values (compared through
    :func:`normalize_value`, so case-insensitively); a bool field requires the proxy's flag to
    equal it. A proxy matches when every field that is set accepts it. A single string (or
    int for :attr:`asn`) is taken as a one-element list; values are stored normalized and
    deduplicated, in first-seen order, so equal filters compare and hash equal.
    """

    id: tuple[str, ...] | None = None
    """Accepted proxy ids."""
    pool_id: tuple[str, ...] | None = None
    """Accepted pools."""
    continent: tuple[str, ...] | None = None
    """Accepted continents."""
    country: tuple[str, ...] | None = None
    """Accepted countries."""
    state: tuple[str, ...] | None = None
    """Accepted states or regions."""
    city: tuple[str, ...] | None = None
    """Accepted cities."""
    carrier: tuple[str, ...] | None = None
    """Accepted carriers."""
    asn: tuple[int, ...] | None = None
    """Accepted autonomous system numbers."""
    datacenter: bool | None = None
    """Required value of :attr:`Proxy.datacenter`."""
    residential: bool | None = None
    """Required value of :attr:`Proxy.residential`."""
    mobile: bool | None = None
    """Required value of :attr:`Proxy.mobile`."""

    def __post_init__(self) -> None:
        for name in ("id", *_STRING_ATTRS):
            object.__setattr__(self, name, _str_values(name, getattr(self, name)))
        object.__setattr__(self, "asn", _asn_values(self.asn))
        for name in _CLASS_ATTRS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"ProxyFilter.{name} must be a bool or None")

    def is_empty(self) -> bool:
        """Whether no field is set (the filter accepts every proxy)."""
        return all(getattr(self, f.name) is None for f in fields(self))

    def matches(self, proxy: Proxy) -> bool:
        """Whether *proxy* passes every field that is set."""
        for name in ("id", *_STRING_ATTRS):
            accepted: tuple[str, ...] | None = getattr(self, name)
            if accepted is not None:
                value: str | None = getattr(proxy, name)
                if value is None or normalize_value(value) not in accepted:
                    return False
        if self.asn is not None and proxy.asn not in self.asn:
            return False
        for name in _CLASS_ATTRS:
            flag: bool | None = getattr(self, name)
            if flag is not None and getattr(proxy, name) is not flag:
                return False
        return True
