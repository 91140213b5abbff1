"""The ``--bind`` value: where a ``pyrama serve`` command listens."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyrama.net import Authority

__all__ = ["DEFAULT_BIND_HOST", "parse_bind"]

DEFAULT_BIND_HOST = "127.0.0.1"
"""Servers listen on loopback unless told otherwise."""


def _port(text: str, whole: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise ValueError(f"invalid bind address {whole!r}: {text!r} is not a port (0-65535)")
    return int(text)


def parse_bind(text: str, *, default_port: int) -> Authority:
    """Parse ``HOST:PORT``, ``[IPv6]:PORT``, ``HOST``, ``PORT`` or ``:PORT``.

    HOST is an IP address or ``localhost``; a missing host is :data:`DEFAULT_BIND_HOST`
    (loopback), a missing port *default_port*. A bare IPv6 address (``::1``) is a host
    without a port; write ``[::1]:8080`` to give one. Raises ``ValueError`` (or its subclass
    :class:`pyrama_net.errors.AddressError`) saying what is wrong.
    """
    from pyrama.net import Authority, Host  # `pyrama --help` must not import pyrama-net

    if not text or text != text.strip():
        raise ValueError(f"invalid bind address {text!r}: empty or padded with spaces")
    if text.isdigit() or (text.startswith(":") and text[1:].isdigit()):
        return Authority(Host(IPv4Address(DEFAULT_BIND_HOST)), _port(text.lstrip(":"), text))
    if text.count(":") > 1 and not text.startswith("["):
        try:  # a bare IPv6 address such as ::1 or fe80::1%eth0
            ip = ip_address(text)
        except ValueError:
            raise ValueError(
                f"invalid bind address {text!r}: write an IPv6 address with a port as "
                "[ADDRESS]:PORT"
            ) from None
        assert isinstance(ip, IPv6Address)
        return Authority(Host(ip), default_port)
    authority = Authority.parse_with_default(text, default_port)
    if authority.host.is_domain and not authority.host.is_loopback:
        raise ValueError(
            f"invalid bind address {text!r}: give an IP address (or localhost), not a domain name"
        )
    return authority
