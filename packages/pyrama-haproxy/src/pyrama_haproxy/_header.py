"""The PROXY protocol header model: versions, commands, families, TLVs and the header itself.

Everything here is a frozen value that validates itself on construction (a
:class:`~pyrama_core.errors.ConfigError` for values the protocol cannot carry), and
:meth:`ProxyHeader.encode` turns a header into wire bytes. Decoding lives in ``_decode``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address

from pyrama_core.errors import ConfigError
from pyrama_haproxy._crc32c import crc32c
from pyrama_net import SocketAddress

__all__ = [
    "MAX_UNIQUE_ID_LENGTH",
    "MAX_V1_HEADER_LENGTH",
    "MAX_V2_PAYLOAD_LENGTH",
    "UNIX_PATH_LENGTH",
    "V2_SIGNATURE",
    "ProxyCommand",
    "ProxyFamily",
    "ProxyHeader",
    "ProxyTransport",
    "ProxyVersion",
    "SslClientFlags",
    "SslSubType",
    "SslTlv",
    "Tlv",
    "TlvType",
]

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
"""The 12 bytes every PROXY protocol v2 header starts with."""

MAX_V1_HEADER_LENGTH = 107
"""The longest v1 header line, ``PROXY ... \\r\\n`` included (the spec's limit)."""

MAX_V2_PAYLOAD_LENGTH = 0xFFFF
"""The largest value of the v2 length field: addresses plus TLVs after the 16-byte prefix."""

MAX_UNIQUE_ID_LENGTH = 128
"""The longest ``PP2_TYPE_UNIQUE_ID`` value the spec allows."""

UNIX_PATH_LENGTH = 108
"""The size of each Unix socket path field of a v2 ``AF_UNIX`` address block."""

_V2_PREFIX = struct.Struct("!12sBBH")
_INET = struct.Struct("!4s4sHH")
_INET6 = struct.Struct("!16s16sHH")
_TLV_HEAD = struct.Struct("!BH")


class ProxyVersion(IntEnum):
    """The PROXY protocol version: 1 (text) or 2 (binary)."""

    V1 = 1
    V2 = 2


class ProxyCommand(IntEnum):
    """The v2 command: ``LOCAL`` (the proxy's own connection, e.g. a health check) or ``PROXY``.

    A v1 header always means ``PROXY``.
    """

    LOCAL = 0x0
    PROXY = 0x1


class ProxyFamily(IntEnum):
    """The address family of a header, as in the high nibble of the v2 family byte."""

    UNSPEC = 0x0
    INET = 0x1
    INET6 = 0x2
    UNIX = 0x3


class ProxyTransport(IntEnum):
    """The transport protocol of a header, as in the low nibble of the v2 family byte."""

    UNSPEC = 0x0
    STREAM = 0x1
    DGRAM = 0x2


class TlvType(IntEnum):
    """The TLV types the PROXY protocol v2 spec defines.

    Types ``0xE0..0xEF`` are for custom use (:attr:`CUSTOM_MIN`..:attr:`CUSTOM_MAX`),
    ``0xF0`` is experimental; any other type is kept as an opaque :class:`Tlv` too.
    """

    ALPN = 0x01
    AUTHORITY = 0x02
    CRC32C = 0x03
    NOOP = 0x04
    UNIQUE_ID = 0x05
    SSL = 0x20
    NETNS = 0x30
    CUSTOM_MIN = 0xE0
    CUSTOM_MAX = 0xEF
    EXPERIMENT = 0xF0


class SslSubType(IntEnum):
    """The sub-TLV types inside a ``PP2_TYPE_SSL`` TLV."""

    VERSION = 0x21
    CN = 0x22
    CIPHER = 0x23
    SIG_ALG = 0x24
    KEY_ALG = 0x25


class SslClientFlags(IntEnum):
    """Bits of the ``client`` field of a ``PP2_TYPE_SSL`` TLV."""

    SSL = 0x01
    CERT_CONN = 0x02
    CERT_SESS = 0x04


def _check_tlv_value(tlv_type: int, value: bytes) -> None:
    """Raise ConfigError when *value* is not a valid value for *tlv_type*."""
    if tlv_type == TlvType.CRC32C and len(value) != 4:
        raise ConfigError(f"a CRC32C TLV holds 4 bytes, got {len(value)}")
    if tlv_type == TlvType.UNIQUE_ID and len(value) > MAX_UNIQUE_ID_LENGTH:
        raise ConfigError(
            f"a UNIQUE_ID TLV holds at most {MAX_UNIQUE_ID_LENGTH} bytes, got {len(value)}"
        )
    if tlv_type == TlvType.AUTHORITY:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError("an AUTHORITY TLV must be UTF-8") from exc
    if tlv_type == TlvType.NETNS and not value.isascii():
        raise ConfigError("a NETNS TLV must be US-ASCII")
    if tlv_type == TlvType.SSL:
        _parse_ssl(value)


def _iter_tlvs(data: bytes, what: str) -> Iterator[tuple[int, bytes]]:
    """Split *data* into ``(type, value)`` pairs; ConfigError when a TLV overruns *data*."""
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < 3:
            raise ConfigError(f"{what}: {end - pos} stray bytes where a TLV header should be")
        tlv_type, length = _TLV_HEAD.unpack_from(data, pos)
        pos += 3
        if length > end - pos:
            raise ConfigError(
                f"{what}: TLV 0x{tlv_type:02x} says {length} bytes, only {end - pos} are left"
            )
        yield tlv_type, data[pos : pos + length]
        pos += length


def _parse_ssl(value: bytes) -> SslTlv:
    if len(value) < 5:
        raise ConfigError(f"an SSL TLV holds at least 5 bytes, got {len(value)}")
    client = value[0]
    (verify,) = struct.unpack_from("!I", value, 1)
    subs = tuple(Tlv(t, v) for t, v in _iter_tlvs(value[5:], "SSL TLV"))
    return SslTlv(client=client, verify=verify, tlvs=subs)


@dataclass(frozen=True, slots=True)
class Tlv:
    """One type-length-value entry of a v2 header (or of an SSL TLV).

    The value is kept as raw bytes; types the spec defines are validated (CRC32C is 4 bytes,
    UNIQUE_ID at most 128, AUTHORITY UTF-8, NETNS ASCII, SSL well formed). Build the common
    ones with the class methods (:meth:`alpn`, :meth:`authority`, :meth:`crc32c`, ...).
    """

    type: int
    """The TLV type (a :class:`TlvType`, a custom ``0xE0..0xEF`` type, or any other byte)."""
    value: bytes = b""
    """The raw value, at most 65535 bytes."""

    def __post_init__(self) -> None:
        if isinstance(self.type, bool) or not isinstance(self.type, int):
            raise ConfigError(f"a TLV type is an int, got {self.type!r}")
        if not 0 <= self.type <= 0xFF:
            raise ConfigError(f"a TLV type is one byte (0..255), got {self.type}")
        value: object = self.value
        if isinstance(value, bytearray | memoryview):
            object.__setattr__(self, "value", bytes(value))
        elif not isinstance(value, bytes):
            raise ConfigError(f"a TLV value is bytes, got {type(value).__name__}")
        if len(self.value) > MAX_V2_PAYLOAD_LENGTH:
            raise ConfigError(f"a TLV value is at most 65535 bytes, got {len(self.value)}")
        _check_tlv_value(self.type, self.value)

    @classmethod
    def alpn(cls, protocol: bytes | str) -> Tlv:
        """``PP2_TYPE_ALPN``: the application protocol the client negotiated (``h2``...)."""
        value = protocol.encode("ascii") if isinstance(protocol, str) else protocol
        return cls(TlvType.ALPN, value)

    @classmethod
    def authority(cls, host: str) -> Tlv:
        """``PP2_TYPE_AUTHORITY``: the host name the client asked for (SNI), UTF-8."""
        return cls(TlvType.AUTHORITY, host.encode("utf-8"))

    @classmethod
    def crc32c(cls) -> Tlv:
        """``PP2_TYPE_CRC32C``: asks :meth:`ProxyHeader.encode` to checksum the header.

        The value given here is a placeholder; encoding always writes the computed checksum.
        """
        return cls(TlvType.CRC32C, b"\x00\x00\x00\x00")

    @classmethod
    def noop(cls, padding: int = 0) -> Tlv:
        """``PP2_TYPE_NOOP``: *padding* zero bytes the receiver ignores (for alignment)."""
        return cls(TlvType.NOOP, bytes(padding))

    @classmethod
    def unique_id(cls, value: bytes) -> Tlv:
        """``PP2_TYPE_UNIQUE_ID``: an opaque connection id of at most 128 bytes."""
        return cls(TlvType.UNIQUE_ID, value)

    @classmethod
    def netns(cls, name: str) -> Tlv:
        """``PP2_TYPE_NETNS``: the name of the network namespace, US-ASCII."""
        return cls(TlvType.NETNS, name.encode("ascii"))

    @classmethod
    def custom(cls, tlv_type: int, value: bytes) -> Tlv:
        """A custom TLV of type ``0xE0..0xEF``."""
        if not TlvType.CUSTOM_MIN <= tlv_type <= TlvType.CUSTOM_MAX:
            raise ConfigError(f"custom TLV types are 0xE0..0xEF, got 0x{tlv_type:02x}")
        return cls(tlv_type, value)

    def encode(self) -> bytes:
        """The TLV on the wire: type byte, 16-bit length, value."""
        return _TLV_HEAD.pack(self.type, len(self.value)) + self.value

    @property
    def wire_length(self) -> int:
        """How many bytes :meth:`encode` produces."""
        return 3 + len(self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SslTlv:
    """The structured value of a ``PP2_TYPE_SSL`` TLV: how the client spoke TLS to the proxy.

    :attr:`client` holds :class:`SslClientFlags` bits, :attr:`verify` is ``0`` when the client
    presented a certificate that verified, :attr:`tlvs` are the sub-TLVs (:class:`SslSubType`).
    """

    client: int = SslClientFlags.SSL
    """Bit field of :class:`SslClientFlags`."""
    verify: int = 0
    """Zero when the client certificate verified (or none was needed), non-zero otherwise."""
    tlvs: tuple[Tlv, ...] = ()
    """The sub-TLVs: version, client certificate CN, cipher, signature and key algorithms."""

    def __post_init__(self) -> None:
        if not 0 <= self.client <= 0xFF:
            raise ConfigError(f"SSL client flags are one byte, got {self.client}")
        if not 0 <= self.verify <= 0xFFFFFFFF:
            raise ConfigError(f"SSL verify is 32 bits, got {self.verify}")
        object.__setattr__(self, "tlvs", tuple(self.tlvs))
        for sub in self.tlvs:
            if not isinstance(sub, Tlv):
                raise ConfigError(f"SSL sub-TLVs are Tlv values, got {sub!r}")

    @classmethod
    def build(
        cls,
        *,
        client: int = SslClientFlags.SSL,
        verify: int = 0,
        version: str | None = None,
        cn: str | None = None,
        cipher: str | None = None,
        sig_alg: str | None = None,
        key_alg: str | None = None,
    ) -> SslTlv:
        """An SSL TLV from its named sub-values (ASCII text, UTF-8 for *cn*); ``None`` omits."""
        subs: list[Tlv] = []
        for sub_type, text in (
            (SslSubType.VERSION, version),
            (SslSubType.CN, cn),
            (SslSubType.CIPHER, cipher),
            (SslSubType.SIG_ALG, sig_alg),
            (SslSubType.KEY_ALG, key_alg),
        ):
            if text is not None:
                subs.append(Tlv(sub_type, text.encode("utf-8")))
        return cls(client=client, verify=verify, tlvs=tuple(subs))

    @classmethod
    def from_tlv(cls, tlv: Tlv) -> SslTlv:
        """Parse the value of an SSL TLV (ConfigError when it is not one or is malformed)."""
        if tlv.type != TlvType.SSL:
            raise ConfigError(f"not an SSL TLV: type 0x{tlv.type:02x}")
        return _parse_ssl(tlv.value)

    def to_tlv(self) -> Tlv:
        """Encode as a ``PP2_TYPE_SSL`` :class:`Tlv`."""
        subs = b"".join(t.encode() for t in self.tlvs)
        body = struct.pack("!BI", self.client, self.verify) + subs
        return Tlv(TlvType.SSL, body)

    def _text(self, sub_type: SslSubType) -> str | None:
        for sub in self.tlvs:
            if sub.type == sub_type:
                return sub.value.decode("utf-8", "replace")
        return None

    @property
    def is_ssl(self) -> bool:
        """Whether the client connected over SSL/TLS."""
        return bool(self.client & SslClientFlags.SSL)

    @property
    def version(self) -> str | None:
        """``PP2_SUBTYPE_SSL_VERSION``: the TLS version (``TLSv1.3``), if sent."""
        return self._text(SslSubType.VERSION)

    @property
    def cn(self) -> str | None:
        """``PP2_SUBTYPE_SSL_CN``: the Common Name of the client certificate, if sent."""
        return self._text(SslSubType.CN)

    @property
    def cipher(self) -> str | None:
        """``PP2_SUBTYPE_SSL_CIPHER``: the cipher name, if sent."""
        return self._text(SslSubType.CIPHER)

    @property
    def sig_alg(self) -> str | None:
        """``PP2_SUBTYPE_SSL_SIG_ALG``: the certificate signature algorithm, if sent."""
        return self._text(SslSubType.SIG_ALG)

    @property
    def key_alg(self) -> str | None:
        """``PP2_SUBTYPE_SSL_KEY_ALG``: the certificate key algorithm, if sent."""
        return self._text(SslSubType.KEY_ALG)


Address = SocketAddress | bytes
"""A header address: an IP socket address, or a Unix socket path (bytes)."""


def _family_of(addr: Address) -> ProxyFamily:
    if isinstance(addr, bytes):
        return ProxyFamily.UNIX
    return ProxyFamily.INET if isinstance(addr.ip, IPv4Address) else ProxyFamily.INET6


def _check_address(addr: object, what: str) -> None:
    if isinstance(addr, bytes):
        if len(addr) > UNIX_PATH_LENGTH:
            raise ConfigError(f"{what}: a Unix path is at most {UNIX_PATH_LENGTH} bytes")
        if addr.endswith(b"\x00"):
            raise ConfigError(f"{what}: a Unix path cannot end with NUL (it is NUL-padded)")
        return
    if not isinstance(addr, SocketAddress):
        raise ConfigError(f"{what} is a SocketAddress or a Unix path (bytes), got {addr!r:.60}")
    if isinstance(addr.ip, IPv6Address) and addr.ip.scope_id is not None:
        raise ConfigError(f"{what}: the PROXY protocol cannot carry an IPv6 zone ({addr})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyHeader:
    """A PROXY protocol header (v1 or v2): who the proxy's client was, and what it reached.

    *source* is the original client, *destination* the address it connected to; both are a
    :class:`~pyrama_net.SocketAddress` of the same IP version, both a Unix path (``bytes``,
    v2 only), or both ``None`` (v1 ``UNKNOWN``, v2 ``AF_UNSPEC``: use the real connection's
    addresses). :attr:`family` follows from them. *transport* defaults to
    :attr:`ProxyTransport.STREAM` with addresses and :attr:`ProxyTransport.UNSPEC` without.
    *tlvs* (v2 only) are kept in order; a :meth:`Tlv.crc32c` among them makes
    :meth:`encode` checksum the header.

    Invalid combinations raise :class:`~pyrama_core.errors.ConfigError`: v1 carries only
    ``PROXY`` over TCP/IPv4 or TCP/IPv6 (or ``UNKNOWN``) and no TLVs; a v2 header must fit its
    16-bit length field.
    """

    version: ProxyVersion = ProxyVersion.V2
    """1 (text) or 2 (binary)."""
    command: ProxyCommand = ProxyCommand.PROXY
    """``PROXY`` (relayed connection) or ``LOCAL`` (the proxy's own; v2 only)."""
    source: Address | None = None
    """The original client's address (``None`` when unknown)."""
    destination: Address | None = None
    """The address the client connected to (``None`` when unknown)."""
    transport: ProxyTransport = field(default=None)  # type: ignore[assignment]
    """``STREAM`` (TCP), ``DGRAM`` (UDP) or ``UNSPEC`` (no addresses)."""
    tlvs: tuple[Tlv, ...] = ()
    """The v2 TLVs, in wire order."""

    def __post_init__(self) -> None:
        if not isinstance(self.version, ProxyVersion):
            raise ConfigError(f"version must be a ProxyVersion, got {self.version!r}")
        if not isinstance(self.command, ProxyCommand):
            raise ConfigError(f"command must be a ProxyCommand, got {self.command!r}")
        src, dst = self.source, self.destination
        if (src is None) != (dst is None):
            raise ConfigError("source and destination are both given or both None")
        if src is not None and dst is not None:
            _check_address(src, "source")
            _check_address(dst, "destination")
            if _family_of(src) is not _family_of(dst):
                raise ConfigError(
                    f"source and destination differ in family ({src!r:.60} vs {dst!r:.60})"
                )
        transport: object = self.transport
        if transport is None:
            transport = ProxyTransport.UNSPEC if src is None else ProxyTransport.STREAM
            object.__setattr__(self, "transport", transport)
        if not isinstance(transport, ProxyTransport):
            raise ConfigError(f"transport must be a ProxyTransport, got {transport!r}")
        if (src is None) != (transport is ProxyTransport.UNSPEC):
            raise ConfigError("transport is UNSPEC exactly when there are no addresses")
        tlvs: object = self.tlvs
        if not isinstance(tlvs, tuple):
            object.__setattr__(self, "tlvs", tuple(self.tlvs))
        crcs = 0
        for tlv in self.tlvs:
            if not isinstance(tlv, Tlv):
                raise ConfigError(f"tlvs holds Tlv values, got {tlv!r:.60}")
            crcs += tlv.type == TlvType.CRC32C
        if crcs > 1:
            raise ConfigError("at most one CRC32C TLV")
        if self.version is ProxyVersion.V1:
            if self.command is not ProxyCommand.PROXY:
                raise ConfigError("v1 headers have no LOCAL command")
            if self.tlvs:
                raise ConfigError("v1 headers carry no TLVs")
            if isinstance(src, bytes) or transport is ProxyTransport.DGRAM:
                raise ConfigError("v1 headers carry only TCP over IPv4 or IPv6 (or UNKNOWN)")
        elif self.payload_length > MAX_V2_PAYLOAD_LENGTH:
            raise ConfigError(
                f"a v2 header carries at most {MAX_V2_PAYLOAD_LENGTH} bytes of addresses and "
                f"TLVs, this one needs {self.payload_length}"
            )

    # -- derived facts -----------------------------------------------------------------------
    @property
    def family(self) -> ProxyFamily:
        """The address family, from the addresses (``UNSPEC`` without)."""
        return ProxyFamily.UNSPEC if self.source is None else _family_of(self.source)

    @property
    def payload_length(self) -> int:
        """The v2 length field: address block plus TLVs, in bytes."""
        addr = {
            ProxyFamily.UNSPEC: 0,
            ProxyFamily.INET: _INET.size,
            ProxyFamily.INET6: _INET6.size,
            ProxyFamily.UNIX: 2 * UNIX_PATH_LENGTH,
        }[self.family]
        return addr + sum(t.wire_length for t in self.tlvs)

    def tlv(self, tlv_type: int) -> Tlv | None:
        """The first TLV of *tlv_type*, or ``None``."""
        for t in self.tlvs:
            if t.type == tlv_type:
                return t
        return None

    @property
    def alpn(self) -> bytes | None:
        """The ``ALPN`` TLV's value, or ``None``."""
        t = self.tlv(TlvType.ALPN)
        return None if t is None else t.value

    @property
    def authority(self) -> str | None:
        """The ``AUTHORITY`` TLV (the client's SNI host name), or ``None``."""
        t = self.tlv(TlvType.AUTHORITY)
        return None if t is None else t.value.decode("utf-8")

    @property
    def unique_id(self) -> bytes | None:
        """The ``UNIQUE_ID`` TLV's value, or ``None``."""
        t = self.tlv(TlvType.UNIQUE_ID)
        return None if t is None else t.value

    @property
    def netns(self) -> str | None:
        """The ``NETNS`` TLV (network namespace name), or ``None``."""
        t = self.tlv(TlvType.NETNS)
        return None if t is None else t.value.decode("ascii")

    @property
    def crc32c(self) -> int | None:
        """The checksum carried in the ``CRC32C`` TLV (verified when decoded), or ``None``."""
        t = self.tlv(TlvType.CRC32C)
        return None if t is None else int.from_bytes(t.value, "big")

    @property
    def ssl(self) -> SslTlv | None:
        """The ``SSL`` TLV, parsed, or ``None``."""
        t = self.tlv(TlvType.SSL)
        return None if t is None else _parse_ssl(t.value)

    @property
    def custom_tlvs(self) -> tuple[Tlv, ...]:
        """The TLVs of the custom range ``0xE0..0xEF``, in order."""
        return tuple(t for t in self.tlvs if TlvType.CUSTOM_MIN <= t.type <= TlvType.CUSTOM_MAX)

    # -- encoding ----------------------------------------------------------------------------
    def encode(self) -> bytes:
        """The header on the wire (v1 text line or v2 binary block)."""
        if self.version is ProxyVersion.V1:
            return self._encode_v1()
        return self._encode_v2()

    def _encode_v1(self) -> bytes:
        src, dst = self.source, self.destination
        if not isinstance(src, SocketAddress) or not isinstance(dst, SocketAddress):
            return b"PROXY UNKNOWN\r\n"
        proto = "TCP4" if self.family is ProxyFamily.INET else "TCP6"
        return f"PROXY {proto} {src.ip} {dst.ip} {src.port} {dst.port}\r\n".encode("ascii")

    def _encode_v2(self) -> bytes:
        src, dst = self.source, self.destination
        family = self.family
        if isinstance(src, SocketAddress) and isinstance(dst, SocketAddress):
            packer = _INET if family is ProxyFamily.INET else _INET6
            addr = packer.pack(src.ip.packed, dst.ip.packed, src.port, dst.port)
        elif isinstance(src, bytes) and isinstance(dst, bytes):
            addr = src.ljust(UNIX_PATH_LENGTH, b"\x00") + dst.ljust(UNIX_PATH_LENGTH, b"\x00")
        else:
            addr = b""
        out = bytearray(
            _V2_PREFIX.pack(
                V2_SIGNATURE,
                0x20 | self.command,
                (family << 4) | self.transport,
                self.payload_length,
            )
        )
        out += addr
        crc_at = -1
        for t in self.tlvs:
            if t.type == TlvType.CRC32C:
                crc_at = len(out) + 3
                out += _TLV_HEAD.pack(t.type, 4) + b"\x00\x00\x00\x00"
            else:
                out += t.encode()
        if crc_at >= 0:
            out[crc_at : crc_at + 4] = crc32c(out).to_bytes(4, "big")
        return bytes(out)

    def __str__(self) -> str:
        return (
            f"PROXY v{int(self.version)} {self.command.name} {self.transport.name} "
            f"{_addr_text(self.source)} -> {_addr_text(self.destination)}"
            + (f" tlvs={[f'0x{t.type:02x}' for t in self.tlvs]}" if self.tlvs else "")
        )


def _addr_text(addr: Address | None) -> str:
    if addr is None:
        return "unknown"
    if isinstance(addr, bytes):
        return f"unix:{os.fsdecode(addr)!r}"
    return str(addr)
