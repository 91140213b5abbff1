"""Protocol: a URI scheme such as ``http``, ``wss`` or ``socks5h``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pyrama_net._address_util import address_error
from pyrama_net.errors import AddressError

__all__ = ["Protocol"]

_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz")
_REST = _FIRST | frozenset("0123456789+-.")

_DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "socks5": 1080,
    "socks5h": 1080,
}


@dataclass(frozen=True, slots=True)
class Protocol:
    """A URI scheme, lowercased (``HTTP`` equals ``http``).

    The schemes pyrama knows (``http``, ``https``, ``ws``, ``wss``, ``socks5``, ``socks5h``) are
    available as class constants (:attr:`HTTP`, ...) and have a :attr:`default_port`; any other
    scheme made of RFC 3986 scheme characters (a letter, then letters, digits, ``+``, ``-``,
    ``.``) is accepted too, without a default port. ``Protocol(text)`` and :meth:`parse` are the
    same.
    """

    scheme: str
    """The lowercase scheme, without ``:`` or ``://``."""

    HTTP: ClassVar[Protocol]
    """``http``, default port 80."""
    HTTPS: ClassVar[Protocol]
    """``https``, default port 443."""
    WS: ClassVar[Protocol]
    """``ws``, default port 80."""
    WSS: ClassVar[Protocol]
    """``wss``, default port 443."""
    SOCKS5: ClassVar[Protocol]
    """``socks5`` (the client resolves names), default port 1080."""
    SOCKS5H: ClassVar[Protocol]
    """``socks5h`` (the proxy resolves names), default port 1080."""

    def __post_init__(self) -> None:
        text: object = self.scheme
        if not isinstance(text, str):
            raise AddressError(f"a scheme must be a str, got {type(text).__name__}")
        scheme = text.lower() if text.isascii() else text
        if not scheme:
            raise address_error("scheme", text, "it is empty")
        if scheme[0] not in _FIRST:
            raise address_error("scheme", text, "it must start with a letter")
        for c in scheme:
            if c not in _REST:
                raise address_error(
                    "scheme", text, f"character {c!r} is not allowed (letters, digits, '+-.')"
                )
        object.__setattr__(self, "scheme", scheme)

    @classmethod
    def parse(cls, text: str) -> Protocol:
        """Parse a scheme such as ``https`` (no ``://``)."""
        return cls(text)

    def __str__(self) -> str:
        return self.scheme

    @property
    def default_port(self) -> int | None:
        """The well-known port of the scheme, or ``None`` for schemes pyrama does not know."""
        return _DEFAULT_PORTS.get(self.scheme)

    @property
    def is_secure(self) -> bool:
        """Whether the scheme runs over TLS (``https``, ``wss``)."""
        return self.scheme in ("https", "wss")

    @property
    def is_http(self) -> bool:
        """Whether the scheme is ``http`` or ``https``."""
        return self.scheme in ("http", "https")

    @property
    def is_ws(self) -> bool:
        """Whether the scheme is ``ws`` or ``wss``."""
        return self.scheme in ("ws", "wss")

    @property
    def is_socks5(self) -> bool:
        """Whether the scheme is ``socks5`` or ``socks5h``."""
        return self.scheme in ("socks5", "socks5h")


Protocol.HTTP = Protocol("http")
Protocol.HTTPS = Protocol("https")
Protocol.WS = Protocol("ws")
Protocol.WSS = Protocol("wss")
Protocol.SOCKS5 = Protocol("socks5")
Protocol.SOCKS5H = Protocol("socks5h")
