"""Sans-IO SOCKS5 messages (RFC 1928) and username/password auth (RFC 1929).

Every message is a frozen, slotted, keyword-friendly dataclass that validates itself, with
``encode() -> bytes`` and a ``decode`` class method. Stream messages decode from the start of
a buffer and return ``(message, consumed)``, or ``None`` while the buffer does not yet hold a
whole message ("need more"); bytes after the message are left to the caller. A UDP datagram
is decoded whole by :meth:`UdpPacket.decode`. Anything that breaks the RFCs raises
:class:`~pyrama_socks5.errors.Socks5ProtocolError` and nothing else, with the reply code a
server should answer in its ``hint``.

Wire layouts (all integers big-endian)::

    greeting     VER=5 NMETHODS METHODS[NMETHODS]
    selection    VER=5 METHOD
    auth request VER=1 ULEN UNAME[ULEN] PLEN PASSWD[PLEN]
    auth status  VER=1 STATUS
    request      VER=5 CMD RSV=0 ATYP DST.ADDR DST.PORT
    reply        VER=5 REP RSV=0 ATYP BND.ADDR BND.PORT
    udp datagram RSV=0x0000 FRAG ATYP DST.ADDR DST.PORT DATA
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Final

from pyrama_core.errors import Side
from pyrama_net import Authority, Basic, Host
from pyrama_net.errors import AddressError
from pyrama_socks5.errors import Socks5ProtocolError

__all__ = [
    "MAX_FIELD_LEN",
    "SOCKS5_VERSION",
    "USERPASS_VERSION",
    "AddressType",
    "AuthMethod",
    "ClientGreeting",
    "Command",
    "MethodSelection",
    "Reply",
    "ReplyCode",
    "Request",
    "UdpPacket",
    "UsernamePasswordRequest",
    "UsernamePasswordResponse",
    "decode_address",
    "encode_address",
    "reply_code_name",
]

Buffer = bytes | bytearray | memoryview

SOCKS5_VERSION: Final[int] = 5
"""The version byte of every SOCKS5 message (RFC 1928)."""
USERPASS_VERSION: Final[int] = 1
"""The version byte of the username/password sub-negotiation (RFC 1929)."""
MAX_FIELD_LEN: Final[int] = 255
"""Longest length-prefixed field: a domain, a username, a password (one length byte)."""

_UNSPECIFIED: Final[Authority] = Authority(Host(IPv4Address(0)), 0)


class AuthMethod(IntEnum):
    """Authentication methods a client offers and a server selects (RFC 1928 section 3)."""

    NO_AUTH = 0x00
    """No authentication required."""
    GSSAPI = 0x01
    """GSS-API (RFC 1961); not implemented by pyrama, only recognised."""
    USERNAME_PASSWORD = 0x02
    """Username/password (RFC 1929)."""
    NO_ACCEPTABLE = 0xFF
    """The server's answer when none of the offered methods is acceptable."""


class Command(IntEnum):
    """What a request asks for (RFC 1928 section 4)."""

    CONNECT = 0x01
    """Open a TCP connection to the destination and relay it."""
    BIND = 0x02
    """Listen for one inbound TCP connection (FTP-style) and relay it."""
    UDP_ASSOCIATE = 0x03
    """Relay UDP datagrams for the client while the TCP connection stays open."""


class AddressType(IntEnum):
    """How an address is written on the wire (ATYP)."""

    IPV4 = 0x01
    """Four bytes."""
    DOMAIN = 0x03
    """A length byte and that many bytes of ASCII name."""
    IPV6 = 0x04
    """Sixteen bytes."""


class ReplyCode(IntEnum):
    """The REP field of a reply (RFC 1928 section 6)."""

    SUCCEEDED = 0x00
    """Succeeded."""
    GENERAL_FAILURE = 0x01
    """General SOCKS server failure."""
    CONNECTION_NOT_ALLOWED = 0x02
    """Connection not allowed by ruleset."""
    NETWORK_UNREACHABLE = 0x03
    """Network unreachable."""
    HOST_UNREACHABLE = 0x04
    """Host unreachable."""
    CONNECTION_REFUSED = 0x05
    """Connection refused."""
    TTL_EXPIRED = 0x06
    """TTL expired."""
    COMMAND_NOT_SUPPORTED = 0x07
    """Command not supported."""
    ADDRESS_TYPE_NOT_SUPPORTED = 0x08
    """Address type not supported."""


def reply_code_name(code: int) -> str:
    """A readable name for the reply byte *code* (``"unassigned"`` beyond ``0x08``)."""
    try:
        return ReplyCode(code).name.lower().replace("_", " ")
    except ValueError:
        return "unassigned"


def _fail(message: str, hint: int | None = ReplyCode.GENERAL_FAILURE) -> Socks5ProtocolError:
    return Socks5ProtocolError(message, hint=hint)


def _local(message: str) -> Socks5ProtocolError:
    """A message built with invalid values: our side's mistake, no reply code."""
    return Socks5ProtocolError(message, side=Side.LOCAL)


def _check_byte(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise _local(f"{name} must be an int 0..255, got {value!r}")
    return value


def _check_authority(name: str, value: object) -> Authority:
    if not isinstance(value, Authority):
        raise _local(f"{name} must be an Authority, got {type(value).__name__}")
    return value


# -- addresses -----------------------------------------------------------------------------------


def encode_address(address: Authority) -> bytes:
    """``ATYP ADDR PORT`` for *address* (an IPv6 zone cannot be sent and is dropped)."""
    value = address.host.value
    port = struct.pack("!H", address.port)
    if isinstance(value, IPv4Address):
        return b"\x01" + value.packed + port
    if isinstance(value, IPv6Address):
        return b"\x04" + value.packed + port
    name = str(value).encode("ascii")
    if len(name) > MAX_FIELD_LEN:  # pragma: no cover - a Domain is at most 253 characters
        raise _fail(f"domain {value} is longer than {MAX_FIELD_LEN} bytes", None)
    return bytes((AddressType.DOMAIN, len(name))) + name + port


def _host_from_name(raw: bytes) -> Host:
    if not raw:
        raise _fail("the destination domain is empty", ReplyCode.HOST_UNREACHABLE)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise _fail("the destination domain is not ASCII", ReplyCode.HOST_UNREACHABLE) from None
    try:
        return Host.parse(text)
    except AddressError as exc:
        raise _fail(
            f"the destination domain is not a valid host: {exc}", ReplyCode.HOST_UNREACHABLE
        ) from exc


def decode_address(
    data: Buffer, offset: int = 0, *, lenient: bool = False
) -> tuple[Authority, int] | None:
    """Decode ``ATYP ADDR PORT`` at *offset*; return ``(address, end offset)`` or ``None``.

    ``None`` means more bytes are needed. A domain that is an IP literal becomes an IP host;
    an unknown ATYP raises with hint ``0x08`` (address type not supported). With *lenient*
    a domain that is not a valid host reads as ``0.0.0.0`` instead of raising (for hints
    such as the UDP ASSOCIATE address, where PySocks sends the name ``"0"``).
    """
    view = memoryview(data)
    if len(view) <= offset:
        return None
    atyp = view[offset]
    if atyp == AddressType.IPV4:
        end = offset + 1 + 4 + 2
        if len(view) < end:
            return None
        host = Host(IPv4Address(bytes(view[offset + 1 : offset + 5])))
    elif atyp == AddressType.IPV6:
        end = offset + 1 + 16 + 2
        if len(view) < end:
            return None
        host = Host(IPv6Address(bytes(view[offset + 1 : offset + 17])))
    elif atyp == AddressType.DOMAIN:
        if len(view) < offset + 2:
            return None
        n = view[offset + 1]
        end = offset + 2 + n + 2
        if len(view) < end:
            return None
        try:
            host = _host_from_name(bytes(view[offset + 2 : offset + 2 + n]))
        except Socks5ProtocolError:
            if not lenient:
                raise
            host = _UNSPECIFIED.host
    else:
        raise _fail(f"unknown address type {atyp:#04x}", ReplyCode.ADDRESS_TYPE_NOT_SUPPORTED)
    (port,) = struct.unpack_from("!H", view, end - 2)
    return Authority(host, port), end


# -- method negotiation ------------------------------------------------------------------------


def _check_version(got: int, want: int, what: str) -> None:
    if got != want:
        raise _fail(f"{what}: version byte is {got:#04x}, expected {want:#04x}", None)


@dataclass(frozen=True, slots=True)
class ClientGreeting:
    """The client's first message: the authentication methods it offers (1 to 255)."""

    methods: tuple[int, ...]
    """Offered method bytes, in the client's order (see :class:`AuthMethod`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.methods, tuple) or not 1 <= len(self.methods) <= MAX_FIELD_LEN:
            raise _local("a greeting offers 1 to 255 methods (as a tuple)")
        for m in self.methods:
            _check_byte("a method", m)

    def encode(self) -> bytes:
        """The wire form."""
        return bytes((SOCKS5_VERSION, len(self.methods), *self.methods))

    @classmethod
    def decode(cls, data: Buffer) -> tuple[ClientGreeting, int] | None:
        """Decode from the start of *data*: ``(greeting, consumed)`` or ``None`` (need more)."""
        view = memoryview(data)
        if not view:
            return None
        _check_version(view[0], SOCKS5_VERSION, "greeting")
        if len(view) < 2:
            return None
        n = view[1]
        if n == 0:
            raise _fail("the greeting offers no authentication method", None)
        if len(view) < 2 + n:
            return None
        return cls(tuple(view[2 : 2 + n])), 2 + n


@dataclass(frozen=True, slots=True)
class MethodSelection:
    """The server's answer to the greeting: the chosen method, or ``0xFF`` (none acceptable)."""

    method: int
    """The selected method byte (see :class:`AuthMethod`)."""

    def __post_init__(self) -> None:
        _check_byte("method", self.method)

    def encode(self) -> bytes:
        """The wire form."""
        return bytes((SOCKS5_VERSION, self.method))

    @classmethod
    def decode(cls, data: Buffer) -> tuple[MethodSelection, int] | None:
        """Decode from the start of *data*: ``(selection, 2)`` or ``None`` (need more)."""
        view = memoryview(data)
        if not view:
            return None
        _check_version(view[0], SOCKS5_VERSION, "method selection")
        if len(view) < 2:
            return None
        return cls(view[1]), 2


# -- RFC 1929 ----------------------------------------------------------------------------------


def _check_field(name: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise _local(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) > MAX_FIELD_LEN:
        raise _local(f"{name} is {len(value)} bytes, over {MAX_FIELD_LEN}")
    return value


@dataclass(frozen=True, slots=True, repr=False)
class UsernamePasswordRequest:
    """The client's RFC 1929 credentials (each 0 to 255 bytes; the password is never shown).

    RFC 1929 asks for at least one byte each; empty fields are accepted for clients that send
    them (an empty password is common).
    """

    username: bytes
    """The user name, as sent."""
    password: bytes
    """The password, as sent."""

    def __post_init__(self) -> None:
        _check_field("username", self.username)
        _check_field("password", self.password)

    @classmethod
    def from_basic(cls, credentials: Basic) -> UsernamePasswordRequest:
        """Build from :class:`~pyrama_net.Basic` credentials (UTF-8)."""
        return cls(credentials.username.encode("utf-8"), credentials.password.encode("utf-8"))

    def to_basic(self) -> Basic:
        """The credentials as :class:`~pyrama_net.Basic`; raise if they cannot be one.

        Raises :class:`~pyrama_socks5.errors.Socks5ProtocolError` when a field is not UTF-8,
        the username holds ``:`` or either holds a control character.
        """
        try:
            return Basic(self.username.decode("utf-8"), self.password.decode("utf-8"))
        except (UnicodeDecodeError, AddressError) as exc:
            raise _fail(f"credentials cannot be Basic credentials: {exc}", None) from exc

    def encode(self) -> bytes:
        """The wire form."""
        u, p = self.username, self.password
        return bytes((USERPASS_VERSION, len(u))) + u + bytes((len(p),)) + p

    @classmethod
    def decode(cls, data: Buffer) -> tuple[UsernamePasswordRequest, int] | None:
        """Decode from the start of *data*: ``(request, consumed)`` or ``None`` (need more)."""
        view = memoryview(data)
        if not view:
            return None
        _check_version(view[0], USERPASS_VERSION, "username/password request")
        if len(view) < 2:
            return None
        ulen = view[1]
        if len(view) < 3 + ulen:
            return None
        plen = view[2 + ulen]
        end = 3 + ulen + plen
        if len(view) < end:
            return None
        return cls(bytes(view[2 : 2 + ulen]), bytes(view[3 + ulen : end])), end

    def __repr__(self) -> str:
        return f"UsernamePasswordRequest(username={self.username!r}, password=<redacted>)"


@dataclass(frozen=True, slots=True)
class UsernamePasswordResponse:
    """The server's RFC 1929 verdict: status ``0`` is success, anything else failure."""

    status: int
    """``0x00`` on success."""

    def __post_init__(self) -> None:
        _check_byte("status", self.status)

    @property
    def success(self) -> bool:
        """Whether the credentials were accepted."""
        return self.status == 0

    def encode(self) -> bytes:
        """The wire form."""
        return bytes((USERPASS_VERSION, self.status))

    @classmethod
    def decode(cls, data: Buffer) -> tuple[UsernamePasswordResponse, int] | None:
        """Decode from the start of *data*: ``(response, 2)`` or ``None`` (need more)."""
        view = memoryview(data)
        if not view:
            return None
        _check_version(view[0], USERPASS_VERSION, "username/password response")
        if len(view) < 2:
            return None
        return cls(view[1]), 2


# -- request and reply -------------------------------------------------------------------------


def _check_rsv(value: int, what: str) -> None:
    if value != 0:
        raise _fail(f"{what}: reserved byte is {value:#04x}, expected 0x00")


@dataclass(frozen=True, slots=True)
class Request:
    """A client's request: a command and its destination."""

    command: Command
    """CONNECT, BIND or UDP ASSOCIATE."""
    destination: Authority
    """DST.ADDR and DST.PORT (for UDP ASSOCIATE: where the client will send from, or zeros)."""

    def __post_init__(self) -> None:
        if not isinstance(self.command, Command):
            raise _local(f"command must be a Command, got {self.command!r}")
        _check_authority("destination", self.destination)

    def encode(self) -> bytes:
        """The wire form."""
        return bytes((SOCKS5_VERSION, self.command, 0)) + encode_address(self.destination)

    @classmethod
    def decode(cls, data: Buffer) -> tuple[Request, int] | None:
        """Decode from the start of *data*: ``(request, consumed)`` or ``None`` (need more).

        An unknown command raises with hint ``0x07``, an unknown address type with ``0x08``.
        """
        view = memoryview(data)
        if not view:
            return None
        _check_version(view[0], SOCKS5_VERSION, "request")
        if len(view) < 3:
            return None
        _check_rsv(view[2], "request")
        try:
            command = Command(view[1])
        except ValueError:
            raise _fail(
                f"unknown command {view[1]:#04x}", ReplyCode.COMMAND_NOT_SUPPORTED
            ) from None
        # UDP ASSOCIATE's address is only a hint of where the client sends from
        got = decode_address(view, 3, lenient=command is Command.UDP_ASSOCIATE)
        if got is None:
            return None
        destination, end = got
        return cls(command, destination), end


@dataclass(frozen=True, slots=True)
class Reply:
    """A server's reply: a code and the bound address (BND.ADDR, BND.PORT)."""

    code: int
    """The REP byte: ``0x00`` success, see :class:`ReplyCode` (unassigned codes are kept)."""
    bound: Authority = _UNSPECIFIED
    """The address the server bound or connected from (``0.0.0.0:0`` when it has none)."""

    def __post_init__(self) -> None:
        _check_byte("reply code", self.code)
        _check_authority("bound", self.bound)

    @property
    def success(self) -> bool:
        """Whether the code is ``0x00`` (succeeded)."""
        return self.code == 0

    def encode(self) -> bytes:
        """The wire form."""
        return bytes((SOCKS5_VERSION, self.code, 0)) + encode_address(self.bound)

    @classmethod
    def decode(cls, data: Buffer) -> tuple[Reply, int] | None:
        """Decode from the start of *data*: ``(reply, consumed)`` or ``None`` (need more)."""
        view = memoryview(data)
        if not view:
            return None
        _check_version(view[0], SOCKS5_VERSION, "reply")
        if len(view) < 3:
            return None
        _check_rsv(view[2], "reply")
        got = decode_address(view, 3)
        if got is None:
            return None
        bound, end = got
        return cls(view[1], bound), end


# -- UDP ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UdpPacket:
    """One UDP ASSOCIATE datagram: header (fragment number, destination) and payload.

    From the client the address is the destination; from the relay it is the source the
    payload came from.
    """

    destination: Authority
    """DST.ADDR and DST.PORT."""
    data: bytes = b""
    """The payload."""
    frag: int = 0
    """The fragment number; ``0`` for a standalone datagram (pyrama drops any other)."""

    def __post_init__(self) -> None:
        _check_authority("destination", self.destination)
        _check_byte("frag", self.frag)
        if not isinstance(self.data, bytes):
            raise _local(f"data must be bytes, got {type(self.data).__name__}")

    def header(self) -> bytes:
        """The header alone (``RSV FRAG ATYP ADDR PORT``)."""
        return bytes((0, 0, self.frag)) + encode_address(self.destination)

    def encode(self) -> bytes:
        """The whole datagram."""
        return self.header() + self.data

    @classmethod
    def decode(cls, datagram: Buffer) -> UdpPacket:
        """Decode a whole datagram; a truncated header raises (there is no "need more")."""
        view = memoryview(datagram)
        if len(view) < 4:
            raise _fail(f"a {len(view)}-byte datagram is shorter than a SOCKS5 UDP header")
        if view[0] != 0 or view[1] != 0:
            raise _fail("UDP header: reserved bytes are not zero")
        got = decode_address(view, 3)
        if got is None:
            raise _fail("UDP header: the address is truncated")
        destination, end = got
        return cls(destination, bytes(view[end:]), view[2])
