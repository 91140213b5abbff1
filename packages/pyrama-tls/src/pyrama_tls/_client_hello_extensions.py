"""Encoding and decoding of the ClientHello extensions pyrama-tls understands.

Decoders take an extension's ``extension_data`` and return a typed value; they raise
:class:`ExtensionDataError` (with the offset inside that data) when the bytes do not follow the
extension's wire format. Encoders do the reverse and are what the ``ClientHelloExtension``
builder class methods use.

Strictness follows what a TLS server must enforce: the vector lengths of RFC 6066, 7301, 8446
and 8449 (``<1..2^8-1>`` and the like), no second host name in SNI, no two key shares for one
group, a record size limit of at least 64.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ExtensionDataError",
    "KeyShareEntry",
    "decode_alpn",
    "decode_key_shares",
    "decode_record_size_limit",
    "decode_server_name",
    "decode_u8_list",
    "decode_u8_prefixed_u16_list",
    "decode_u16_list",
    "encode_alpn",
    "encode_key_shares",
    "encode_server_name",
    "encode_u8_list",
    "encode_u8_prefixed_u16_list",
    "encode_u16_list",
]

_U16 = struct.Struct(">H")
_U16_PAIR = struct.Struct(">HH")


class ExtensionDataError(Exception):
    """Internal: the data of one extension is malformed; :attr:`offset` is inside that data."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True, slots=True)
class KeyShareEntry:
    """One entry of the ``key_share`` extension: a named group and the client's public share."""

    group: int
    """The named group (``0x001d`` x25519, ``0x11ec`` X25519MLKEM768, GREASE, ...)."""
    key_exchange: bytes
    """The public key share, as sent (1 to 65535 bytes)."""

    def __post_init__(self) -> None:
        if not 0 <= self.group <= 0xFFFF:
            raise ValueError(f"key share group {self.group} is not a 16-bit value")
        if not 1 <= len(self.key_exchange) <= 0xFFFF:
            raise ValueError(f"key share is {len(self.key_exchange)} bytes, not 1..65535")
        key: object = self.key_exchange
        if not isinstance(key, bytes):
            object.__setattr__(self, "key_exchange", bytes(self.key_exchange))


def _u16_length(data: bytes, what: str) -> int:
    """Check the 2-byte length prefix of *data* covers exactly the rest; return it."""
    if len(data) < 2:
        raise ExtensionDataError(f"{what}: {len(data)} byte(s), too short for a 2-byte length", 0)
    n: int = _U16.unpack_from(data)[0]
    if n != len(data) - 2:
        raise ExtensionDataError(
            f"{what}: length field says {n} bytes but {len(data) - 2} follow", 0
        )
    return n


def _u8_length(data: bytes, what: str) -> int:
    """Check the 1-byte length prefix of *data* covers exactly the rest; return it."""
    if not data:
        raise ExtensionDataError(f"{what}: empty, expected a 1-byte length", 0)
    n = data[0]
    if n != len(data) - 1:
        raise ExtensionDataError(
            f"{what}: length field says {n} bytes but {len(data) - 1} follow", 0
        )
    return n


def decode_u16_list(data: bytes, what: str, *, min_items: int = 1) -> tuple[int, ...]:
    """Decode a ``uint16 list<2..2^16-2>`` with a 2-byte length (groups, signature schemes)."""
    n = _u16_length(data, what)
    if n % 2:
        raise ExtensionDataError(f"{what}: odd list length {n} for 2-byte entries", 0)
    if n < 2 * min_items:
        raise ExtensionDataError(f"{what}: the list is empty", 0)
    return struct.unpack_from(f">{n >> 1}H", data, 2)


def decode_u8_prefixed_u16_list(data: bytes, what: str) -> tuple[int, ...]:
    """Decode a ``uint16 list<2..254>`` with a 1-byte length (supported_versions, compress_cert)."""
    n = _u8_length(data, what)
    if n % 2:
        raise ExtensionDataError(f"{what}: odd list length {n} for 2-byte entries", 0)
    if n == 0:
        raise ExtensionDataError(f"{what}: the list is empty", 0)
    return struct.unpack_from(f">{n >> 1}H", data, 1)


def decode_u8_list(data: bytes, what: str) -> tuple[int, ...]:
    """Decode a ``uint8 list<1..2^8-1>`` (ec_point_formats, psk_key_exchange_modes)."""
    n = _u8_length(data, what)
    if n == 0:
        raise ExtensionDataError(f"{what}: the list is empty", 0)
    return tuple(data[1:])


def decode_server_name(data: bytes) -> str | None:
    """Decode ``server_name`` (RFC 6066 section 3); return the host name, or ``None`` if absent.

    The host name must be printable ASCII without spaces; it is returned as sent (case kept, no
    IDNA decoding). A list with two host names is refused.
    """
    what = "server_name"
    n = _u16_length(data, what)
    if n == 0:
        raise ExtensionDataError(f"{what}: the server name list is empty", 0)
    host: str | None = None
    seen: set[int] = set()
    pos = 2
    end = len(data)
    while pos < end:
        if end - pos < 3:
            raise ExtensionDataError(f"{what}: truncated entry header", pos)
        name_type = data[pos]
        (name_len,) = _U16.unpack_from(data, pos + 1)
        start = pos + 3
        if start + name_len > end:
            raise ExtensionDataError(
                f"{what}: entry length {name_len} runs past the end of the list", pos + 1
            )
        if name_type in seen:
            raise ExtensionDataError(f"{what}: more than one name of type {name_type}", pos)
        seen.add(name_type)
        if name_type == 0:
            if name_len == 0:
                raise ExtensionDataError(f"{what}: empty host name", pos + 1)
            raw = data[start : start + name_len]
            if not raw.isascii():
                raise ExtensionDataError(f"{what}: host name is not ASCII", start)
            text = raw.decode("ascii")
            if not text.isprintable() or " " in text:
                raise ExtensionDataError(
                    f"{what}: host name holds control characters or spaces", start
                )
            host = text
        pos = start + name_len
    return host


def decode_alpn(
    data: bytes, what: str = "application_layer_protocol_negotiation"
) -> tuple[str, ...]:
    """Decode an ALPN ``ProtocolNameList`` (RFC 7301); names are returned latin-1 decoded.

    Latin-1 maps every byte to one character, so ``name.encode("latin-1")`` gives the exact
    wire bytes back even for non-ASCII (GREASE-like) protocol names.
    """
    n = _u16_length(data, what)
    if n < 2:
        raise ExtensionDataError(f"{what}: the protocol list is empty", 0)
    out: list[str] = []
    pos = 2
    end = len(data)
    while pos < end:
        ln = data[pos]
        if ln == 0:
            raise ExtensionDataError(f"{what}: empty protocol name", pos)
        if pos + 1 + ln > end:
            raise ExtensionDataError(
                f"{what}: protocol name length {ln} runs past the end of the list", pos
            )
        out.append(data[pos + 1 : pos + 1 + ln].decode("latin-1"))
        pos += 1 + ln
    return tuple(out)


def decode_key_shares(data: bytes) -> tuple[KeyShareEntry, ...]:
    """Decode the ClientHello ``key_share`` extension (``client_shares<0..2^16-1>``)."""
    what = "key_share"
    _u16_length(data, what)
    out: list[KeyShareEntry] = []
    groups: set[int] = set()
    pos = 2
    end = len(data)
    while pos < end:
        if end - pos < 4:
            raise ExtensionDataError(f"{what}: truncated entry header", pos)
        group, ln = _U16_PAIR.unpack_from(data, pos)
        if ln == 0:
            raise ExtensionDataError(f"{what}: empty key share for group 0x{group:04x}", pos + 2)
        if pos + 4 + ln > end:
            raise ExtensionDataError(
                f"{what}: key share length {ln} runs past the end of the list", pos + 2
            )
        if group in groups:
            raise ExtensionDataError(f"{what}: two key shares for group 0x{group:04x}", pos)
        groups.add(group)
        out.append(KeyShareEntry(group, data[pos + 4 : pos + 4 + ln]))
        pos += 4 + ln
    return tuple(out)


def decode_record_size_limit(data: bytes) -> int:
    """Decode ``record_size_limit`` (RFC 8449): one uint16, at least 64."""
    if len(data) != 2:
        raise ExtensionDataError(f"record_size_limit: {len(data)} bytes, expected 2", 0)
    (limit,) = _U16.unpack_from(data)
    if limit < 64:
        raise ExtensionDataError(f"record_size_limit: {limit} is below the minimum of 64", 0)
    return int(limit)


# encoders ------------------------------------------------------------------------------------
def _check_u16s(values: tuple[int, ...], what: str) -> None:
    for v in values:
        if not 0 <= v <= 0xFFFF:
            raise ValueError(f"{what}: {v} is not a 16-bit value")


def encode_u16_list(values: Iterable[int], what: str = "list") -> bytes:
    """Encode a ``uint16 list`` with a 2-byte length prefix."""
    vals = tuple(values)
    _check_u16s(vals, what)
    if 2 * len(vals) > 0xFFFF:
        raise ValueError(f"{what}: too many entries ({len(vals)})")
    return struct.pack(f">H{len(vals)}H", 2 * len(vals), *vals)


def encode_u8_prefixed_u16_list(values: Iterable[int], what: str = "list") -> bytes:
    """Encode a ``uint16 list`` with a 1-byte length prefix (at most 127 entries)."""
    vals = tuple(values)
    _check_u16s(vals, what)
    if 2 * len(vals) > 0xFF:
        raise ValueError(f"{what}: too many entries ({len(vals)}, at most 127)")
    return struct.pack(f">B{len(vals)}H", 2 * len(vals), *vals)


def encode_u8_list(values: Iterable[int], what: str = "list") -> bytes:
    """Encode a ``uint8 list`` with a 1-byte length prefix."""
    vals = bytes(values)
    if len(vals) > 0xFF:
        raise ValueError(f"{what}: too many entries ({len(vals)}, at most 255)")
    return bytes((len(vals),)) + vals


def encode_server_name(host: str) -> bytes:
    """Encode a ``server_name`` extension naming one host (ASCII, as given)."""
    raw = host.encode("ascii")
    if not raw or len(raw) > 0xFFFF - 5:
        raise ValueError(f"server_name: host name length {len(raw)} is out of range")
    return struct.pack(">HBH", len(raw) + 3, 0, len(raw)) + raw


def encode_alpn(protocols: Iterable[str | bytes]) -> bytes:
    """Encode an ALPN ``ProtocolNameList``; ``str`` names are encoded as latin-1."""
    body = bytearray()
    for p in protocols:
        raw = p.encode("latin-1") if isinstance(p, str) else bytes(p)
        if not 1 <= len(raw) <= 0xFF:
            raise ValueError(f"ALPN protocol name of {len(raw)} bytes is out of range (1..255)")
        body.append(len(raw))
        body += raw
    if len(body) > 0xFFFF:
        raise ValueError("ALPN protocol list is too long")
    return _U16.pack(len(body)) + bytes(body)


def encode_key_shares(entries: Iterable[KeyShareEntry | tuple[int, bytes]]) -> bytes:
    """Encode the ClientHello ``key_share`` extension from entries or ``(group, key)`` pairs."""
    body = bytearray()
    for e in entries:
        entry = e if isinstance(e, KeyShareEntry) else KeyShareEntry(e[0], e[1])
        body += _U16_PAIR.pack(entry.group, len(entry.key_exchange))
        body += entry.key_exchange
    if len(body) > 0xFFFF:
        raise ValueError("key_share list is too long")
    return _U16.pack(len(body)) + bytes(body)
