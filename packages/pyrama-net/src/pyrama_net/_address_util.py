"""Helpers shared by the address parsers: error construction and strict port parsing."""

from __future__ import annotations

from pyrama_net.errors import AddressError

__all__ = [
    "MAX_PORT",
    "Invalid",
    "address_error",
    "check_port",
    "parse_port",
    "show",
    "split_host_port",
]

MAX_PORT = 65535
"""The largest TCP/UDP port number."""

_SHOW_LIMIT = 80


class Invalid(Exception):
    """Internal: why a piece of an address is invalid.

    Inner helpers raise it with a reason only; each public parser catches it and raises an
    :class:`AddressError` naming what it was parsing, so messages read once and in context.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def show(value: str) -> str:
    """Return *value* quoted for an error message, cut short when it is long."""
    if len(value) > _SHOW_LIMIT:
        return repr(value[:_SHOW_LIMIT]) + f"... ({len(value)} chars)"
    return repr(value)


def address_error(kind: str, value: str, reason: str) -> AddressError:
    """Build the :class:`AddressError` for an invalid *kind* (``"domain"``, ``"host"``, ...)."""
    return AddressError(f"invalid {kind} {show(value)}: {reason}")


def check_port(port: object) -> int:
    """Return *port* when it is an ``int`` in ``0..65535``, else raise :class:`AddressError`."""
    if isinstance(port, bool) or not isinstance(port, int):
        raise AddressError(f"port must be an int, got {type(port).__name__}")
    if not 0 <= port <= MAX_PORT:
        raise AddressError(f"port {port} is out of range 0..{MAX_PORT}")
    return port


def parse_port(text: str) -> int:
    """Parse a port strictly: 1-5 ASCII digits, no sign, no spaces, no leading zero, <= 65535.

    Raises :class:`Invalid`.
    """
    if not text:
        raise Invalid("the port is empty")
    if len(text) > 5 or not (text.isascii() and text.isdigit()):
        raise Invalid(f"port {show(text)} must be 1 to 5 decimal digits")
    if len(text) > 1 and text[0] == "0":
        raise Invalid(f"port {show(text)} has a leading zero")
    port = int(text)
    if port > MAX_PORT:
        raise Invalid(f"port {port} is out of range 0..{MAX_PORT}")
    return port


def split_host_port(text: str) -> tuple[str, str | None]:
    """Split ``host[:port]`` into the host text and the port text (``None`` when absent).

    A bracketed host (``[::1]``) is kept with its brackets. An unbracketed host may not contain
    ``:``, so ``::1:80`` is refused instead of guessed at. Raises :class:`Invalid`.
    """
    if not text:
        raise Invalid("it is empty")
    if text[0] == "[":
        end = text.find("]")
        if end < 0:
            raise Invalid("'[' without a closing ']'")
        host, rest = text[: end + 1], text[end + 1 :]
        if not rest:
            return host, None
        if rest[0] != ":":
            raise Invalid(f"unexpected {show(rest)} after ']' (expected ':port')")
        return host, rest[1:]
    colons = text.count(":")
    if colons == 0:
        return text, None
    if colons > 1:
        raise Invalid("an IPv6 address must be written in brackets, like [::1]:443")
    host, _, port = text.partition(":")
    return host, port
