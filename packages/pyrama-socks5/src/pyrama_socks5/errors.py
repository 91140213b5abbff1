"""Errors raised by pyrama-socks5.

Every error here derives from :class:`Socks5Error` (a :class:`~pyrama_core.errors.PyramaError`).
Bytes that break RFC 1928 / RFC 1929 raise :class:`Socks5ProtocolError`, a
:class:`~pyrama_core.errors.ProtocolError` whose ``hint`` is the SOCKS5 reply code a server
answers with (``None`` when no reply can be sent, such as a wrong protocol version).
"""

from __future__ import annotations

from pyrama_core.errors import ProtocolError, PyramaError, Side

__all__ = [
    "Socks5AuthError",
    "Socks5Error",
    "Socks5ProtocolError",
    "Socks5ReplyError",
]


class Socks5Error(PyramaError):
    """Root of pyrama-socks5's errors."""


class Socks5ProtocolError(Socks5Error, ProtocolError):
    """Bytes on the wire broke SOCKS5 (RFC 1928) or its username/password auth (RFC 1929).

    :attr:`hint` is the reply code a server answers the request with (``0x07`` for an unknown
    command, ``0x08`` for an unknown address type, ``0x01`` otherwise), or ``None`` when no
    reply fits (a wrong version byte, a broken greeting).
    """

    def __init__(self, message: str, *, side: Side = Side.REMOTE, hint: int | None = None) -> None:
        ProtocolError.__init__(self, message, side=side, hint=hint)


class Socks5ReplyError(Socks5Error):
    """A SOCKS5 server answered a request with a failure reply.

    :attr:`code` is the reply byte (``0x01``..``0xFF``); :attr:`reply` the matching
    :class:`~pyrama_socks5.ReplyCode`, or ``None`` for a code RFC 1928 does not assign.
    :attr:`side` is :attr:`~pyrama_core.errors.Side.REMOTE` (the server refused).
    """

    def __init__(self, code: int, message: str | None = None) -> None:
        from pyrama_socks5._proto import ReplyCode, reply_code_name

        super().__init__(message or f"SOCKS5 server replied {code:#04x} ({reply_code_name(code)})")
        self.code = code
        self.reply: ReplyCode | None = ReplyCode(code) if code in _KNOWN_CODES else None
        self.side = Side.REMOTE


_KNOWN_CODES = frozenset(range(0x00, 0x09))


class Socks5AuthError(Socks5Error):
    """Authentication failed: no acceptable method, or the credentials were refused.

    :attr:`side` says who ended the exchange: on a server it is the client
    (:attr:`~pyrama_core.errors.Side.REMOTE`, wrong credentials); on a client it is the
    server (also ``REMOTE``, from the client's point of view).
    """

    def __init__(self, message: str, *, side: Side = Side.REMOTE) -> None:
        super().__init__(message)
        self.side = side
