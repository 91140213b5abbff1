"""Sans-IO ClientHello parser: TLS record bytes in, :class:`~pyrama_tls.ClientHello` out.

:class:`ClientHelloReader` takes bytes as they arrive and reports the ClientHello once its last
byte is in; it fails as early as the bytes allow (the first byte already tells plain HTTP from
TLS, the handshake length field tells an oversized hello before its body arrives).
:func:`parse_client_hello` is the one-shot form for a complete buffer.

What is accepted (and what a TLS server would reject):

* one or more handshake records (content type 22, version ``0x03xx``, length 1 to 2^14)
  carrying exactly one ClientHello handshake message, fragmented in any way;
* nothing after the ClientHello inside its last record (a ClientHello is the client's whole
  first flight); :func:`parse_client_hello` also refuses bytes after the last record, the
  reader leaves them alone and reports :attr:`ClientHelloReader.consumed`;
* the body per RFC 8446 section 4.1.2 (and RFC 5246 for hellos without extensions): session id
  at most 32 bytes, a non-empty even cipher suite list, at least one compression method, an
  extensions block that ends exactly where the message ends, no extension type twice (RFC 8446
  section 4.2 "There MUST NOT be more than one extension of the same type"), and
  ``pre_shared_key`` last (section 4.2.11);
* the data of the extensions pyrama-tls decodes (SNI, ALPN, supported_versions, ...) must
  follow their wire formats.

Limits: the handshake message (4-byte header plus body) may be at most *max_size* bytes
(default :data:`DEFAULT_MAX_CLIENT_HELLO_SIZE`, 18 KiB: far above real hellos, which stay
under 3 KiB even with post-quantum key shares, yet a small bound for the memory a peer can make
us hold; TLS itself allows 2^24 - 1) and may arrive in at most *max_records* records (default
:data:`DEFAULT_MAX_CLIENT_HELLO_RECORDS`, 256), which bounds the wire bytes too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pyrama_tls._client_hello import (
    ClientHello,
    ClientHelloExtension,
    ExtensionViewError,
    trusted_client_hello,
    trusted_extension,
)
from pyrama_tls.errors import ClientHelloError, ClientHelloTooLargeError, NotTlsError

__all__ = [
    "DEFAULT_MAX_CLIENT_HELLO_RECORDS",
    "DEFAULT_MAX_CLIENT_HELLO_SIZE",
    "ClientHelloReader",
    "parse_client_hello",
]

DEFAULT_MAX_CLIENT_HELLO_SIZE = 16 * 1024 + 2048
"""Default bound on the ClientHello handshake message (header included), in bytes."""

DEFAULT_MAX_CLIENT_HELLO_RECORDS = 256
"""Default bound on the number of TLS records a ClientHello may be fragmented into."""

MAX_RECORD_PAYLOAD = 1 << 14
"""Largest plaintext record payload TLS allows (RFC 8446 section 5.1)."""

_HANDSHAKE = 22
_CLIENT_HELLO = 1
_TLS_CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 23: "application_data"}

_U16 = struct.Struct(">H")
_U16_PAIR = struct.Struct(">HH")
_RECORD_HEADER = struct.Struct(">BHH")


def _trunc(what: str, need: int, have: int, offset: int) -> ClientHelloError:
    return ClientHelloError(
        f"ClientHello truncated: {what} needs {need} byte(s) at offset {offset}, "
        f"only {have} left in the message",
        offset=offset,
    )


class ClientHelloReader:
    """Incremental ClientHello parser (sans-IO).

    Call :meth:`feed` with each chunk received; it returns ``None`` while more bytes are needed
    and the :class:`~pyrama_tls.ClientHello` once complete (and again on later calls). It
    raises :class:`~pyrama_tls.errors.NotTlsError` as soon as the bytes cannot start a TLS
    connection, :class:`~pyrama_tls.errors.ClientHelloTooLargeError` when a limit is exceeded,
    and :class:`~pyrama_tls.errors.ClientHelloError` for any other malformation; error
    offsets count from the first byte fed. Bytes fed after the ClientHello's last record are
    not consumed (see :attr:`consumed`). A reader that raised stays failed.
    """

    __slots__ = (
        "_buf",
        "_error",
        "_fragments",
        "_hs",
        "_max_records",
        "_max_size",
        "_msg_len",
        "_pos",
        "_rec_remaining",
        "_record_version",
        "_records",
        "_result",
    )

    def __init__(
        self,
        *,
        max_size: int = DEFAULT_MAX_CLIENT_HELLO_SIZE,
        max_records: int = DEFAULT_MAX_CLIENT_HELLO_RECORDS,
    ) -> None:
        if max_size < 4:
            raise ValueError("max_size must be at least 4 (the handshake header)")
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        self._max_size = max_size
        self._max_records = max_records
        self._buf = bytearray()  # wire bytes not yet processed start at _pos
        self._pos = 0
        self._hs = bytearray()  # reassembled handshake bytes
        self._fragments: list[tuple[int, int]] = []  # (handshake offset, wire offset)
        self._rec_remaining = 0  # body bytes still due in the current record
        self._records = 0
        self._record_version = 0
        self._msg_len = -1  # handshake body length once known
        self._result: ClientHello | None = None
        self._error: ClientHelloError | None = None

    @property
    def consumed(self) -> int:
        """How many of the bytes fed so far belong to the ClientHello records."""
        return self._pos

    @property
    def done(self) -> bool:
        """Whether the ClientHello is complete."""
        return self._result is not None

    def feed(self, data: bytes | bytearray | memoryview) -> ClientHello | None:
        """Add *data*; return the ClientHello when complete, ``None`` while more is needed."""
        if self._result is not None:
            return self._result
        if self._error is not None:
            raise self._error
        self._buf += data
        try:
            return self._advance()
        except ClientHelloError as exc:
            self._error = exc
            raise

    def describe_missing(self) -> str:
        """Say what the reader waits for (for "truncated" messages)."""
        if self._rec_remaining:
            return f"record body ({self._rec_remaining} more byte(s) announced)"
        if self._msg_len >= 0:
            return f"handshake message ({len(self._hs)} of {4 + self._msg_len} bytes received)"
        return "a TLS record header"

    # internals ---------------------------------------------------------------------------
    def _check_first_bytes(self, avail: int) -> None:
        """Judge the first record's header from as few bytes as have arrived."""
        buf = self._buf
        first = buf[0]
        if first == _HANDSHAKE:
            if avail >= 2 and buf[1] != 3:
                raise NotTlsError(
                    f"not TLS: byte 0x16 is followed by 0x{buf[1]:02x}, not a 0x03 version byte",
                    offset=1,
                )
            return
        if first in _TLS_CONTENT_TYPES:
            if avail < 2:
                return
            if buf[1] == 3:
                raise ClientHelloError(
                    f"expected a handshake record, got a TLS {_TLS_CONTENT_TYPES[first]} record",
                    offset=0,
                    hint=10,
                )
        elif first & 0x80:
            if avail < 3:
                return
            if buf[2] == 1:
                raise ClientHelloError(
                    "SSLv2-compatible ClientHello (RFC 5246 appendix E.2) is not supported",
                    offset=0,
                )
        raise NotTlsError(
            f"not TLS: the first byte is 0x{first:02x}, a TLS connection starts with a "
            "handshake record (0x16)",
            offset=0,
        )

    def _advance(self) -> ClientHello | None:
        buf = self._buf
        hs = self._hs
        while True:
            avail = len(buf) - self._pos
            if self._rec_remaining == 0:
                if self._records == 0:
                    if avail == 0:
                        return None
                    self._check_first_bytes(avail)
                if avail < 5:
                    return None
                ctype, version, length = _RECORD_HEADER.unpack_from(buf, self._pos)
                at = self._pos
                if ctype != _HANDSHAKE:
                    name = _TLS_CONTENT_TYPES.get(ctype, f"unknown type {ctype}")
                    raise ClientHelloError(
                        f"record at offset {at} is {name}, but the ClientHello is not complete "
                        "(only handshake records may carry it)",
                        offset=at,
                        hint=10,
                    )
                if version >> 8 != 3:
                    raise ClientHelloError(
                        f"record at offset {at} has version 0x{version:04x}, expected 0x03xx",
                        offset=at + 1,
                    )
                if length == 0:
                    raise ClientHelloError(
                        f"empty handshake record at offset {at} (zero-length fragments are not "
                        "allowed)",
                        offset=at + 3,
                    )
                if length > MAX_RECORD_PAYLOAD:
                    raise ClientHelloError(
                        f"record at offset {at} announces {length} bytes, more than the "
                        f"{MAX_RECORD_PAYLOAD} TLS allows",
                        offset=at + 3,
                        hint=22,
                    )
                self._records += 1
                if self._records > self._max_records:
                    raise ClientHelloTooLargeError(
                        f"ClientHello spread over more than {self._max_records} records",
                        limit=self._max_records,
                        offset=at,
                    )
                if self._records == 1:
                    self._record_version = version
                self._pos += 5
                self._rec_remaining = length
                self._fragments.append((len(hs), self._pos))
                avail -= 5
            if avail == 0:
                return None
            take = min(avail, self._rec_remaining)
            start_len = len(hs)
            hs += buf[self._pos : self._pos + take]
            self._pos += take
            self._rec_remaining -= take
            if self._msg_len < 0:
                self._check_handshake_header(start_len)
            if self._msg_len >= 0 and len(hs) >= 4 + self._msg_len:
                return self._finish()
            if self._rec_remaining:
                return None  # all available bytes taken, record not complete

    def _check_handshake_header(self, start_len: int) -> None:
        """Check the handshake header as its bytes come in; set ``_msg_len`` once known."""
        hs = self._hs
        if start_len == 0 and hs[0] != _CLIENT_HELLO:
            raise ClientHelloError(
                f"handshake message type {hs[0]} at offset {self._wire_offset(0)}, expected "
                "1 (client_hello)",
                offset=self._wire_offset(0),
                hint=10,
            )
        if len(hs) < 4:
            return
        msg_len = (hs[1] << 16) | (hs[2] << 8) | hs[3]
        if 4 + msg_len > self._max_size:
            raise ClientHelloTooLargeError(
                f"ClientHello of {4 + msg_len} bytes exceeds the limit of {self._max_size}",
                limit=self._max_size,
                offset=self._wire_offset(1),
            )
        self._msg_len = msg_len

    def _wire_offset(self, hs_offset: int) -> int:
        """Map an offset in the reassembled handshake bytes back to the wire."""
        wire = 0
        for hs_start, wire_start in self._fragments:
            if hs_start > hs_offset:
                break
            wire = wire_start + (hs_offset - hs_start)
        return wire

    def _finish(self) -> ClientHello:
        end = 4 + self._msg_len
        if len(self._hs) > end or self._rec_remaining:
            extra = len(self._hs) - end + self._rec_remaining
            raise ClientHelloError(
                f"{extra} byte(s) follow the ClientHello inside its record "
                f"(offset {self._wire_offset(end)})",
                offset=self._wire_offset(end),
            )
        self._result = _parse_body(bytes(self._hs), self._record_version, self._wire_offset)
        self._buf.clear()  # every byte is accounted for in _pos; nothing more is read
        return self._result


def _parse_body(hs: bytes, record_version: int, wire: Callable[[int], int]) -> ClientHello:
    """Parse a complete ClientHello handshake message (*hs* includes the 4-byte header)."""
    end = len(hs)
    p = 4
    if end - p < 35:
        raise _trunc("legacy_version, random and session_id length", 35, end - p, wire(p))
    (legacy_version,) = _U16.unpack_from(hs, p)
    random = hs[p + 2 : p + 34]
    sid_len = hs[p + 34]
    p += 35
    if sid_len > 32:
        raise ClientHelloError(
            f"session_id length {sid_len} at offset {wire(p - 1)} exceeds 32",
            offset=wire(p - 1),
            hint=47,
        )
    if end - p < sid_len + 2:
        raise _trunc("session_id and cipher_suites length", sid_len + 2, end - p, wire(p))
    session_id = hs[p : p + sid_len]
    p += sid_len
    (cs_len,) = _U16.unpack_from(hs, p)
    if cs_len == 0 or cs_len % 2:
        raise ClientHelloError(
            f"cipher_suites length {cs_len} at offset {wire(p)} is "
            + ("zero" if cs_len == 0 else "odd"),
            offset=wire(p),
        )
    p += 2
    if end - p < cs_len + 1:
        raise _trunc("cipher_suites and compression_methods length", cs_len + 1, end - p, wire(p))
    cipher_suites = struct.unpack_from(f">{cs_len >> 1}H", hs, p)
    p += cs_len
    comp_len = hs[p]
    if comp_len == 0:
        raise ClientHelloError(
            f"compression_methods list at offset {wire(p)} is empty", offset=wire(p)
        )
    p += 1
    if end - p < comp_len:
        raise _trunc("compression_methods", comp_len, end - p, wire(p))
    compression = tuple(hs[p : p + comp_len])
    p += comp_len

    extensions: list[ClientHelloExtension] = []
    ext_block = p + 2
    if p < end:
        if end - p < 2:
            raise _trunc("extensions length", 2, end - p, wire(p))
        (ext_len,) = _U16.unpack_from(hs, p)
        if ext_len != end - p - 2:
            raise ClientHelloError(
                f"extensions length {ext_len} at offset {wire(p)} does not match the "
                f"{end - p - 2} byte(s) left in the ClientHello",
                offset=wire(p),
            )
        p += 2
        seen: set[int] = set()
        while p < end:
            if end - p < 4:
                raise _trunc("extension header", 4, end - p, wire(p))
            ext_type, dlen = _U16_PAIR.unpack_from(hs, p)
            if end - p - 4 < dlen:
                raise ClientHelloError(
                    f"extension 0x{ext_type:04x} at offset {wire(p)} announces {dlen} bytes, "
                    f"only {end - p - 4} left",
                    offset=wire(p + 2),
                )
            if ext_type in seen:
                raise ClientHelloError(
                    f"duplicate extension 0x{ext_type:04x} at offset {wire(p)} (RFC 8446 4.2)",
                    offset=wire(p),
                    hint=47,
                )
            seen.add(ext_type)
            if 41 in seen and ext_type != 41:
                raise ClientHelloError(
                    f"extension 0x{ext_type:04x} at offset {wire(p)} follows pre_shared_key, "
                    "which must be last (RFC 8446 4.2.11)",
                    offset=wire(p),
                    hint=47,
                )
            extensions.append(trusted_extension(ext_type, hs[p + 4 : p + 4 + dlen]))
            p += 4 + dlen
    try:
        return trusted_client_hello(
            cipher_suites=cipher_suites,
            extensions=tuple(extensions),
            legacy_version=legacy_version,
            random=random,
            session_id=session_id,
            compression_methods=compression,
            record_version=record_version,
        )
    except ExtensionViewError as exc:
        at = wire(_extension_data_offset(hs, ext_block, exc.index) + exc.data_offset)
        raise ClientHelloError(f"{exc} (offset {at})", offset=at) from None


def _extension_data_offset(hs: bytes, pos: int, index: int) -> int:
    """Where the data of extension number *index* starts in *hs* (walking from *pos*)."""
    for _ in range(index):
        pos += 4 + _U16.unpack_from(hs, pos + 2)[0]
    return pos + 4


def parse_client_hello(
    data: bytes | bytearray | memoryview,
    *,
    max_size: int = DEFAULT_MAX_CLIENT_HELLO_SIZE,
    max_records: int = DEFAULT_MAX_CLIENT_HELLO_RECORDS,
) -> ClientHello:
    """Parse a ClientHello from TLS record bytes (starting at the first 5-byte record header).

    *data* must hold exactly the record(s) carrying the ClientHello: a truncated input or bytes
    after the last record raise :class:`~pyrama_tls.errors.ClientHelloError` (use
    :class:`ClientHelloReader` to parse a prefix of a longer stream). See the module docs for
    what is accepted and for the limits.
    """
    reader = ClientHelloReader(max_size=max_size, max_records=max_records)
    ch = reader.feed(data)
    if ch is None:
        raise ClientHelloError(
            f"ClientHello truncated: the input ends after {len(data)} byte(s) while waiting "
            f"for {reader.describe_missing()}",
            offset=len(data),
        )
    if reader.consumed != len(data):
        raise ClientHelloError(
            f"{len(data) - reader.consumed} byte(s) follow the ClientHello records "
            f"(offset {reader.consumed})",
            offset=reader.consumed,
        )
    return ch
