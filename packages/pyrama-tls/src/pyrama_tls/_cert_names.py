"""Names in certificates: validating DNS names and IPs into subjectAltName entries."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address

from cryptography import x509

from pyrama_net import Domain, Host
from pyrama_net.errors import AddressError
from pyrama_tls.errors import CertificateNameError

__all__ = ["MAX_COMMON_NAME_LEN", "CertName", "SanEntries", "cert_ip", "dns_name", "san_entries"]

MAX_COMMON_NAME_LEN = 64
"""Longest subject common name X.509 allows (``ub-common-name``); longer names go in SAN only."""

CertName = str | Domain | IPv4Address | IPv6Address
"""A name a certificate can be issued for: a domain (text or :class:`~pyrama_net.Domain`, with
an optional leading ``*.`` wildcard label) or an IP address (text or ``ipaddress`` object)."""


def dns_name(name: str | Domain) -> str:
    """Validate *name* as a certificate DNS name and return its canonical ASCII form.

    Accepts what :class:`~pyrama_net.Domain` accepts (Unicode names become A-labels), plus one
    leading ``*.`` wildcard label over a name of at least two labels (``*.example.com``, not
    ``*.com``). Raise :class:`~pyrama_tls.errors.CertificateNameError` otherwise.
    """
    if isinstance(name, Domain):
        return name.name
    if not isinstance(name, str):
        raise CertificateNameError(f"a certificate name must be a str, got {type(name).__name__}")
    wildcard = name.startswith("*.")
    try:
        domain = Domain(name[2:] if wildcard else name)
    except AddressError as exc:
        raise CertificateNameError(f"not a valid certificate name: {exc}") from exc
    if not wildcard:
        return domain.name
    if len(domain.labels) < 2:
        raise CertificateNameError(
            f"wildcard {name!r} covers a whole top-level name; it needs two labels after '*.'"
        )
    return "*." + domain.name


def cert_ip(ip: str | IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """Validate *ip* as an iPAddress SAN entry (text or object; an IPv6 zone is dropped)."""
    if isinstance(ip, str):
        try:
            ip = ip_address(ip.removeprefix("[").removesuffix("]").partition("%")[0])
        except ValueError as exc:
            raise CertificateNameError(f"not a valid IP address: {ip!r}") from exc
    if isinstance(ip, IPv6Address):
        return IPv6Address(int(ip)) if ip.scope_id is not None else ip
    if isinstance(ip, IPv4Address):
        return ip
    raise CertificateNameError(
        f"an IP address must be a str or ip_address, got {type(ip).__name__}"
    )


def parse_name(name: CertName) -> str | IPv4Address | IPv6Address:
    """Classify *name*: a canonical DNS name (``str``) or an IP address."""
    if isinstance(name, IPv4Address | IPv6Address):
        return cert_ip(name)
    if isinstance(name, str) and not name.startswith("*."):
        try:
            value = Host.parse(name).value
        except AddressError as exc:
            raise CertificateNameError(f"not a valid certificate name: {exc}") from exc
        return value.name if isinstance(value, Domain) else cert_ip(value)
    return dns_name(name)


class SanEntries:
    """The validated, de-duplicated subjectAltName entries of one certificate, in order.

    :attr:`common_name` is the first DNS name (or, with none, the first IP) when it fits the
    64-character limit of a subject CN, else ``None``.
    """

    __slots__ = ("dns", "ips")

    def __init__(self, dns: list[str], ips: list[IPv4Address | IPv6Address]) -> None:
        self.dns = dns
        self.ips = ips

    @property
    def common_name(self) -> str | None:
        """The subject CN to use, or ``None``."""
        first = self.dns[0] if self.dns else (str(self.ips[0]) if self.ips else None)
        if first is None or len(first) > MAX_COMMON_NAME_LEN:
            return None
        return first

    def extension(self) -> x509.SubjectAlternativeName:
        """The ``subjectAltName`` extension value."""
        general: list[x509.GeneralName] = [x509.DNSName(n) for n in self.dns]
        general.extend(x509.IPAddress(ip) for ip in self.ips)
        return x509.SubjectAlternativeName(general)


def san_entries(
    names: Iterable[CertName], ips: Iterable[str | IPv4Address | IPv6Address] = ()
) -> SanEntries:
    """Validate *names* (domains, wildcards, or IP text) and *ips* into :class:`SanEntries`.

    Text in *names* that is an IP address goes to the IP entries. Raise
    :class:`~pyrama_tls.errors.CertificateNameError` for an invalid name, or when there is no
    name at all.
    """
    if isinstance(names, str | Domain):
        names = [names]
    dns: list[str] = []
    addrs: list[IPv4Address | IPv6Address] = []
    for name in names:
        value = parse_name(name)
        if isinstance(value, str):
            if value not in dns:
                dns.append(value)
        elif value not in addrs:
            addrs.append(value)
    for ip in [ips] if isinstance(ips, str) else ips:
        value_ip = cert_ip(ip)
        if value_ip not in addrs:
            addrs.append(value_ip)
    if not dns and not addrs:
        raise CertificateNameError("a certificate needs at least one DNS name or IP address")
    return SanEntries(dns, addrs)
