"""Server identity check (RFC 6125 / RFC 9525): whether a certificate names a host."""

from __future__ import annotations

import ipaddress

from cryptography import x509

__all__ = ["certificate_matches_host"]


def _normalize(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    return name


def _dns_matches(pattern: str, host: str) -> bool:
    pattern = _normalize(pattern)
    if not pattern or not host:
        return False
    if pattern == host:
        return True
    # a wildcard is only the whole left-most label, and never over fewer than two labels
    if not pattern.startswith("*."):
        return False
    suffix = pattern[2:]
    if "*" in suffix or suffix.count(".") < 1:
        return False
    head, dot, rest = host.partition(".")
    return bool(dot) and bool(head) and rest == suffix


def certificate_matches_host(cert: x509.Certificate, host: str) -> bool:
    """Whether *cert* is valid for *host* (a DNS name or an IP literal).

    Only the subjectAltName extension counts (the common name is ignored, as browsers do):
    IP literals match ``iPAddress`` entries exactly; names match ``dNSName`` entries case
    insensitively, with a ``*`` allowed only as the entire left-most label (``*.example.com``
    matches ``a.example.com``, not ``example.com`` nor ``a.b.example.com``). Unicode names are
    compared in their A-label (``xn--``) form; a trailing dot is ignored.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        ip = None
    if ip is not None:
        return any(
            isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address) and v == ip
            for v in san.get_values_for_type(x509.IPAddress)
        )
    wanted = _normalize(host)
    return any(_dns_matches(p, wanted) for p in san.get_values_for_type(x509.DNSName))
