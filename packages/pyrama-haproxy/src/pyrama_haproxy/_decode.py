"""Sans-IO decoding of PROXY protocol headers: bytes in, "need more" / header / error out."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from pyrama_core.errors import ConfigError
from pyrama_haproxy._crc32c import crc32c
from pyrama_haproxy._header import (
    _INET,
    _INET6,
    _V2_PREFIX,
    MAX_V1_HEADER_LENGTH,
    MAX_V2_PAYLOAD_LENGTH,
    UNIX_PATH_LENGTH,
    V2_SIGNATURE,
    Address,
    ProxyCommand,
    ProxyHeader,
    ProxyTransport,
    ProxyVersion,
    Tlv,
    TlvType,
    _iter_tlvs,
)
from pyrama_haproxy.errors import (
    ProxyHeaderError,
    ProxyHeaderMissingError,
    ProxyHeaderTooLargeError,
)
from pyrama_net import SocketAddress

__all__ = [
    "DEFAULT_MAX_V2_PAYLOAD",
    "Decoded",
    "NeedMore",
    "decode_header",
    "detect_header",
]

DEFAULT_MAX_V2_PAYLOAD = 4096
"""Default limit on the v2 length field when decoding (the protocol allows up to 65535)."""

_V1_PREFIX = b"PROXY "
_DIGITS = frozenset(b"0123456789")
_FAMILY_BYTES = {
    0x00: ProxyTransport.UNSPEC,
    0x11: ProxyTransport.STREAM,
    0x12: ProxyTransport.DGRAM,
    0x21: ProxyTransport.STREAM,
    0x22: ProxyTransport.DGRAM,
    0x31: ProxyTransport.STREAM,
    0x32: ProxyTransport.DGRAM,
}


@dataclass(frozen=True, slots=True)
class NeedMore:
    """The bytes so far are the start of a header: read more and decode again.

    :attr:`at_least` is how many bytes (in total, from the start) are needed before the next
    attempt can get further; a hint, reading more than that is fine.
    """

    at_least: int


@dataclass(frozen=True, slots=True)
class Decoded:
    """A complete header and how many bytes of the input it took (the rest is payload)."""

    header: ProxyHeader
    consumed: int


def detect_header(data: bytes | bytearray | memoryview) -> ProxyVersion | NeedMore | None:
    """Tell from the first bytes whether a stream starts with a PROXY protocol header.

    Returns the :class:`ProxyVersion` once its signature is complete (``PROXY `` for v1,
    the 12-byte signature for v2), ``None`` as soon as the bytes cannot start a header, and
    :class:`NeedMore` while they are a prefix of a signature. Never raises.
    """
    head = bytes(data[:12])
    if head.startswith(_V1_PREFIX):
        return ProxyVersion.V1
    if head.startswith(V2_SIGNATURE):
        return ProxyVersion.V2
    if _V1_PREFIX.startswith(head):
        return NeedMore(len(_V1_PREFIX))
    if V2_SIGNATURE.startswith(head):
        return NeedMore(len(V2_SIGNATURE))
    return None


def decode_header(
    data: bytes | bytearray | memoryview, *, max_v2_payload: int = DEFAULT_MAX_V2_PAYLOAD
) -> Decoded | NeedMore:
    """Decode the PROXY protocol header (v1 or v2) at the start of *data*.

    Returns :class:`Decoded` (the header and the number of bytes it took) or
    :class:`NeedMore` when *data* is the start of a header that is not complete yet. Raises
    :class:`~pyrama_haproxy.errors.ProxyHeaderError` for anything else: no PROXY signature (a
    :class:`~pyrama_haproxy.errors.ProxyHeaderMissingError`), a
    malformed header, a bad CRC32C, or a v2 length field above *max_v2_payload* (then a
    :class:`~pyrama_haproxy.errors.ProxyHeaderTooLargeError`, as soon as the 16-byte prefix
    is there); a v1 line without CRLF in its first 107 bytes is too large as well. No other
    exception escapes, whatever the bytes.
    """
    if not 0 <= max_v2_payload <= MAX_V2_PAYLOAD_LENGTH:
        raise ConfigError(f"max_v2_payload must be 0..{MAX_V2_PAYLOAD_LENGTH}")
    buf = bytes(data)
    version = detect_header(buf)
    if version is None:
        raise ProxyHeaderMissingError("the connection does not start with a PROXY protocol header")
    if isinstance(version, NeedMore):
        return version
    try:
        if version is ProxyVersion.V1:
            return _decode_v1(buf)
        return _decode_v2(buf, max_v2_payload)
    except ConfigError as exc:  # a value the header model refuses
        raise ProxyHeaderError(f"invalid PROXY header: {exc}") from exc


# -- v1 ----------------------------------------------------------------------------------------


def _decode_v1(buf: bytes) -> Decoded | NeedMore:
    window = buf[:MAX_V1_HEADER_LENGTH]
    end = window.find(b"\r\n")
    if end < 0:
        bad = next((i for i, b in enumerate(window) if b in b"\r\n"), -1)
        if bad >= 0 and not (window[bad] == 0x0D and bad == len(window) - 1):
            raise ProxyHeaderError("v1 header: CR and LF must come together, as CRLF")
        if len(window) >= MAX_V1_HEADER_LENGTH:
            raise ProxyHeaderTooLargeError(
                f"v1 header: no CRLF within {MAX_V1_HEADER_LENGTH} bytes",
                limit=MAX_V1_HEADER_LENGTH,
            )
        return NeedMore(len(window) + 1)
    line = window[len(_V1_PREFIX) : end]
    if b"\r" in line or b"\n" in line:
        raise ProxyHeaderError("v1 header: stray CR or LF before the CRLF")
    if not line.isascii():
        raise ProxyHeaderError("v1 header: not ASCII")
    parts = line.decode("ascii").split(" ")
    proto = parts[0]
    consumed = end + 2
    if proto == "UNKNOWN":  # the rest of the line is to be ignored
        return Decoded(ProxyHeader(version=ProxyVersion.V1), consumed)
    if proto not in ("TCP4", "TCP6"):
        raise ProxyHeaderError(f"v1 header: unknown protocol {proto[:16]!r}")
    if len(parts) != 5:
        raise ProxyHeaderError("v1 header: expected PROXY TCPx SRC DST SPORT DPORT")
    ip_type = IPv4Address if proto == "TCP4" else IPv6Address
    src_ip = _v1_ip(parts[1], ip_type)
    dst_ip = _v1_ip(parts[2], ip_type)
    header = ProxyHeader(
        version=ProxyVersion.V1,
        source=SocketAddress(src_ip, _v1_port(parts[3])),
        destination=SocketAddress(dst_ip, _v1_port(parts[4])),
    )
    return Decoded(header, consumed)


def _v1_ip(text: str, ip_type: type[IPv4Address] | type[IPv6Address]) -> IPv4Address | IPv6Address:
    if "%" in text or not text:
        raise ProxyHeaderError(f"v1 header: bad address {text[:48]!r}")
    try:
        return ip_type(text)
    except ValueError as exc:
        raise ProxyHeaderError(f"v1 header: bad address {text[:48]!r}") from exc


def _v1_port(text: str) -> int:
    raw = text.encode("ascii")
    if not raw or len(raw) > 5 or not set(raw) <= _DIGITS or (len(raw) > 1 and raw[0] == 0x30):
        raise ProxyHeaderError(f"v1 header: bad port {text[:16]!r}")
    port = int(raw)
    if port > 0xFFFF:
        raise ProxyHeaderError(f"v1 header: port {port} is out of range")
    return port


# -- v2 ----------------------------------------------------------------------------------------


def _decode_v2(buf: bytes, max_payload: int) -> Decoded | NeedMore:
    if len(buf) < _V2_PREFIX.size:
        return NeedMore(_V2_PREFIX.size)
    _, ver_cmd, fam, length = _V2_PREFIX.unpack_from(buf)
    if ver_cmd >> 4 != 2:
        raise ProxyHeaderError(f"v2 header: version {ver_cmd >> 4}, expected 2")
    try:
        command = ProxyCommand(ver_cmd & 0x0F)
    except ValueError:
        raise ProxyHeaderError(f"v2 header: unknown command 0x{ver_cmd & 0x0F:x}") from None
    if length > max_payload:
        raise ProxyHeaderTooLargeError(
            f"v2 header: {length} bytes of addresses and TLVs, more than the {max_payload} allowed",
            limit=max_payload,
        )
    total = _V2_PREFIX.size + length
    if len(buf) < total:
        return NeedMore(total)
    payload = buf[_V2_PREFIX.size : total]
    if fam not in _FAMILY_BYTES:
        if command is ProxyCommand.LOCAL:  # the receiver discards the block of a LOCAL header
            return Decoded(ProxyHeader(command=command), total)
        raise ProxyHeaderError(f"v2 header: unknown address family/transport 0x{fam:02x}")
    transport = _FAMILY_BYTES[fam]
    source: Address | None = None
    destination: Address | None = None
    family = fam >> 4
    if family == 1:
        if length < _INET.size:
            raise ProxyHeaderError(f"v2 header: {length} bytes are too few for IPv4 addresses")
        s, d, sp, dp = _INET.unpack_from(payload)
        source = SocketAddress(IPv4Address(s), sp)
        destination = SocketAddress(IPv4Address(d), dp)
        rest = payload[_INET.size :]
    elif family == 2:
        if length < _INET6.size:
            raise ProxyHeaderError(f"v2 header: {length} bytes are too few for IPv6 addresses")
        s, d, sp, dp = _INET6.unpack_from(payload)
        source = SocketAddress(IPv6Address(s), sp)
        destination = SocketAddress(IPv6Address(d), dp)
        rest = payload[_INET6.size :]
    elif family == 3:
        if length < 2 * UNIX_PATH_LENGTH:
            raise ProxyHeaderError(f"v2 header: {length} bytes are too few for Unix paths")
        source = payload[:UNIX_PATH_LENGTH].rstrip(b"\x00")
        destination = payload[UNIX_PATH_LENGTH : 2 * UNIX_PATH_LENGTH].rstrip(b"\x00")
        rest = payload[2 * UNIX_PATH_LENGTH :]
    else:
        rest = payload
    tlvs: list[Tlv] = []
    crc_at = -1
    offset = total - len(rest)
    pos = offset
    for tlv_type, value in _iter_tlvs(rest, "v2 header"):
        if tlv_type == TlvType.CRC32C:
            crc_at = pos + 3
        tlvs.append(Tlv(tlv_type, value))
        pos += 3 + len(value)
    header = ProxyHeader(
        command=command,
        source=source,
        destination=destination,
        transport=transport,
        tlvs=tuple(tlvs),
    )
    if crc_at >= 0:
        _verify_crc(buf[:total], crc_at)
    return Decoded(header, total)


def _verify_crc(block: bytes, at: int) -> None:
    (expected,) = struct.unpack_from("!I", block, at)
    zeroed = block[:at] + b"\x00\x00\x00\x00" + block[at + 4 :]
    actual = crc32c(zeroed)
    if actual != expected:
        raise ProxyHeaderError(
            f"v2 header: CRC32C mismatch (header says 0x{expected:08x}, computed 0x{actual:08x})"
        )
