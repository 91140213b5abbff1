"""Host: a domain or an IP address, as found in URIs, Host headers and proxy requests."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address, IPv6Address

from pyrama_net._address_util import Invalid, address_error
from pyrama_net._domain import Domain, domain_name
from pyrama_net.errors import AddressError

__all__ = ["Host", "IpAddress", "check_ip", "host_value", "parse_ipv6"]

IpAddress = IPv4Address | IPv6Address
"""An IPv4 or IPv6 address from the standard library's :mod:`ipaddress`."""

# RFC 6874 allows unreserved characters in a zone identifier.
_ZONE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
_IPV4_CHARS = frozenset("0123456789.")
_LOCALHOST = Domain("localhost")


def _check_zone(zone: str) -> None:
    if not zone:
        raise Invalid("the IPv6 zone identifier after '%' is empty")
    for c in zone:
        if c not in _ZONE_CHARS:
            raise Invalid(f"character {c!r} is not allowed in an IPv6 zone identifier")


def check_ip(ip: object) -> IpAddress:
    """Return *ip* if it is an ``IPv4Address``/``IPv6Address`` with a sane zone, else raise."""
    if isinstance(ip, IPv4Address):
        return ip
    if isinstance(ip, IPv6Address):
        if ip.scope_id is not None:
            try:
                _check_zone(ip.scope_id)
            except Invalid as exc:
                raise address_error("IPv6 address", str(ip), exc.reason) from None
        return ip
    raise AddressError(f"expected an IPv4Address or IPv6Address, got {type(ip).__name__}")


def parse_ipv6(text: str, *, bracketed: bool) -> IPv6Address:
    """Parse the IPv6 address *text* (without brackets); raise :class:`Invalid`.

    With *bracketed* the zone identifier must be written ``%25zone`` (RFC 6874, URI form);
    without, it is ``%zone`` (the form ``getaddrinfo`` and ``ip`` use).
    """
    addr, pct, zone = text.partition("%")
    if pct:
        if bracketed:
            if not zone.startswith("25"):
                raise Invalid("an IPv6 zone in brackets must be written %25<zone> (RFC 6874)")
            zone = zone[2:]
        _check_zone(zone)
        text = f"{addr}%{zone}"
    if not text.isascii():
        raise Invalid("an IPv6 address is plain ASCII")
    try:
        return IPv6Address(text)
    except AddressValueError as exc:
        raise Invalid(f"not a valid IPv6 address ({exc})") from exc


def host_value(text: str) -> Domain | IPv4Address | IPv6Address:
    """Parse host text (see :meth:`Host.parse`) into its domain or IP; raise :class:`Invalid`."""
    if not text:
        raise Invalid("the host is empty")
    if text[0] == "[":
        if text[-1] != "]":
            raise Invalid("'[' without a closing ']'")
        return parse_ipv6(text[1:-1], bracketed=True)
    if ":" in text:
        return parse_ipv6(text, bracketed=False)
    if all(c in _IPV4_CHARS for c in text):
        try:
            return IPv4Address(text)
        except AddressValueError as exc:
            raise Invalid(f"not a valid IPv4 address ({exc})") from exc
    return Domain(domain_name(text))


@dataclass(frozen=True, slots=True)
class Host:
    """A host: a :class:`~pyrama_net.Domain` or an IP address.

    :meth:`parse` accepts a domain (see :class:`~pyrama_net.Domain` for its rules), a dotted-quad
    IPv4 address (strict: four decimal octets, no leading zeros), or an IPv6 address either bare
    (``::1``, zone as ``fe80::1%eth0``) or in brackets (``[::1]``, zone as ``[fe80::1%25eth0]``).
    ``str()`` gives the bare form (no brackets); :meth:`to_uri_str` the form for URIs and
    authorities (brackets around IPv6).
    """

    value: Domain | IPv4Address | IPv6Address
    """The domain or IP address."""

    def __post_init__(self) -> None:
        if not isinstance(self.value, Domain):
            check_ip(self.value)

    @classmethod
    def parse(cls, text: str) -> Host:
        """Parse *text*; raise :class:`~pyrama_net.errors.AddressError` if it is not a host."""
        if not isinstance(text, str):
            raise AddressError(f"a host must be a str, got {type(text).__name__}")
        try:
            return cls(host_value(text))
        except Invalid as exc:
            raise address_error("host", text, exc.reason) from exc.__cause__

    def __str__(self) -> str:
        return str(self.value)

    def to_uri_str(self) -> str:
        """The form used in URIs and authorities: IPv6 in brackets, zone as ``%25zone``."""
        v = self.value
        if isinstance(v, IPv6Address):
            if v.scope_id is not None:
                return f"[{IPv6Address(int(v))}%25{v.scope_id}]"
            return f"[{v}]"
        return str(v)

    @property
    def is_ip(self) -> bool:
        """Whether the host is an IP address."""
        return not isinstance(self.value, Domain)

    @property
    def is_domain(self) -> bool:
        """Whether the host is a domain."""
        return isinstance(self.value, Domain)

    @property
    def is_ipv4(self) -> bool:
        """Whether the host is an IPv4 address."""
        return isinstance(self.value, IPv4Address)

    @property
    def is_ipv6(self) -> bool:
        """Whether the host is an IPv6 address."""
        return isinstance(self.value, IPv6Address)

    @property
    def domain(self) -> Domain | None:
        """The domain, or ``None`` for an IP host."""
        v = self.value
        return v if isinstance(v, Domain) else None

    @property
    def ip(self) -> IpAddress | None:
        """The IP address, or ``None`` for a domain host."""
        v = self.value
        return None if isinstance(v, Domain) else v

    @property
    def is_loopback(self) -> bool:
        """Whether the host is a loopback address or a ``localhost`` name.

        True for ``127.0.0.0/8``, ``::1``, IPv4-mapped loopback (``::ffff:127.0.0.1``), and for
        ``localhost`` and every name under it (RFC 6761 section 6.3).
        """
        v = self.value
        if isinstance(v, Domain):
            return v.is_sub_of(_LOCALHOST)
        if isinstance(v, IPv6Address) and v.ipv4_mapped is not None:
            return v.ipv4_mapped.is_loopback
        return v.is_loopback
