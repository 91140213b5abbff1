"""Authority: a host and a port, as in ``example.com:443`` or ``[::1]:8080``."""

from __future__ import annotations

from dataclasses import dataclass

from pyrama_net._address_util import (
    Invalid,
    address_error,
    check_port,
    parse_port,
    split_host_port,
)
from pyrama_net._host import Host, host_value
from pyrama_net.errors import AddressError

__all__ = ["Authority"]


@dataclass(frozen=True, slots=True)
class Authority:
    """A :class:`~pyrama_net.Host` with a port (``0..65535``).

    Text form is ``host:port`` with IPv6 hosts in brackets (``[::1]:8080``). Parsing is strict:
    the port is 1 to 5 ASCII digits without sign, spaces or leading zeros, and a bare IPv6
    address (``::1:80``) is refused because host and port cannot be told apart. There is no
    userinfo (``user@``) in an authority here; see :class:`~pyrama_net.ProxyAddress` for that.
    """

    host: Host
    """The host."""
    port: int
    """The port, ``0..65535``."""

    def __post_init__(self) -> None:
        if not isinstance(self.host, Host):
            raise AddressError(f"an authority's host must be a Host, got {type(self.host)}")
        check_port(self.port)

    @classmethod
    def parse(cls, text: str) -> Authority:
        """Parse ``host:port``; the port is required."""
        return cls._parse(text, None)

    @classmethod
    def parse_with_default(cls, text: str, default_port: int) -> Authority:
        """Parse ``host[:port]``, using *default_port* when the port is absent.

        ``host:`` (a colon with no port) is still an error.
        """
        check_port(default_port)
        return cls._parse(text, default_port)

    @classmethod
    def _parse(cls, text: str, default_port: int | None) -> Authority:
        if not isinstance(text, str):
            raise AddressError(f"an authority must be a str, got {type(text).__name__}")
        try:
            host_text, port_text = split_host_port(text)
            host = Host(host_value(host_text))
            if port_text is None:
                if default_port is None:
                    raise Invalid("the port is missing (expected host:port)")
                port = default_port
            else:
                port = parse_port(port_text)
        except Invalid as exc:
            raise address_error("authority", text, exc.reason) from exc.__cause__
        return cls(host, port)

    def __str__(self) -> str:
        return f"{self.host.to_uri_str()}:{self.port}"
