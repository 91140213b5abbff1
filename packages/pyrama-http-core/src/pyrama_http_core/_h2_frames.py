"""HTTP/2 wire helpers: the connection preface, setting codes, and raw frame encoders.

The h2 library writes most frames for us. A few are written by hand because h2 cannot be
told to: the initial SETTINGS frame in a chosen order with exactly the chosen entries (as
browsers send it, for fingerprint fidelity), PRIORITY frames before the first request, and
a graceful GOAWAY that leaves the connection open for in-flight streams (h2 moves its state
machine to CLOSED on any GOAWAY, see python-hyper/h2#1181).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum
from typing import Final

__all__ = [
    "H2_PREFACE",
    "H2ErrorCode",
    "H2SettingCode",
    "encode_goaway",
    "encode_ping",
    "encode_priority",
    "encode_settings",
    "encode_window_update",
    "is_h2_preface",
    "may_be_h2_preface",
]

H2_PREFACE: Final[bytes] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The 24-byte client connection preface that starts every HTTP/2 connection (RFC 9113 3.4)."""

_FRAME_HEADER = struct.Struct(">I B I")  # length<<8|type packed below, flags, stream id
_SETTING = struct.Struct(">HI")
_U32 = struct.Struct(">I")
_GOAWAY = struct.Struct(">II")
_PRIORITY = struct.Struct(">IB")

_TYPE_PRIORITY: Final = 0x2
_TYPE_SETTINGS: Final = 0x4
_TYPE_PING: Final = 0x6
_TYPE_GOAWAY: Final = 0x7
_TYPE_WINDOW_UPDATE: Final = 0x8
_FLAG_ACK: Final = 0x1

_MAX_STREAM_ID: Final = 2**31 - 1
_MAX_U32: Final = 2**32 - 1


class H2SettingCode(IntEnum):
    """HTTP/2 SETTINGS identifiers (RFC 9113 6.5.2, RFC 8441, RFC 9218)."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8
    NO_RFC7540_PRIORITIES = 0x9


class H2ErrorCode(IntEnum):
    """HTTP/2 error codes carried by RST_STREAM and GOAWAY (RFC 9113 7)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


def is_h2_preface(data: bytes | bytearray | memoryview) -> bool:
    """Whether *data* starts with the complete HTTP/2 client preface (h2c prior knowledge).

    A server that peeked the first bytes of a connection dispatches to HTTP/2 when this is
    true; see :func:`may_be_h2_preface` to decide whether more bytes are needed first.
    """
    return bytes(data[: len(H2_PREFACE)]) == H2_PREFACE


def may_be_h2_preface(data: bytes | bytearray | memoryview) -> bool:
    """Whether *data* is consistent with the HTTP/2 preface so far (a prefix of it, or it).

    ``False`` means the connection is certainly not HTTP/2 with prior knowledge; ``True``
    with fewer than 24 bytes means: peek more before deciding.
    """
    head = bytes(data[: len(H2_PREFACE)])
    return H2_PREFACE.startswith(head)


def _frame(ftype: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    n = len(payload)
    if n >= 1 << 24:
        raise ValueError(f"frame payload of {n} bytes does not fit the 24-bit length")
    return _FRAME_HEADER.pack((n << 8) | ftype, flags, stream_id & _MAX_STREAM_ID) + payload


def encode_settings(settings: Iterable[tuple[int, int]], *, ack: bool = False) -> bytes:
    """Encode one SETTINGS frame holding *settings* in the given order (duplicates kept)."""
    if ack:
        return _frame(_TYPE_SETTINGS, _FLAG_ACK, 0, b"")
    parts = []
    for ident, value in settings:
        if not 0 <= ident <= 0xFFFF:
            raise ValueError(f"setting identifier {ident} is outside 0..65535")
        if not 0 <= value <= _MAX_U32:
            raise ValueError(f"setting value {value} is outside 0..2**32-1")
        parts.append(_SETTING.pack(ident, value))
    return _frame(_TYPE_SETTINGS, 0, 0, b"".join(parts))


def encode_window_update(stream_id: int, increment: int) -> bytes:
    """Encode a WINDOW_UPDATE frame (``stream_id`` 0 for the connection window)."""
    if not 1 <= increment <= _MAX_STREAM_ID:
        raise ValueError(f"window increment {increment} is outside 1..2**31-1")
    return _frame(_TYPE_WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def encode_goaway(last_stream_id: int, error_code: int, debug_data: bytes = b"") -> bytes:
    """Encode a GOAWAY frame."""
    if not 0 <= last_stream_id <= _MAX_STREAM_ID:
        raise ValueError(f"last stream id {last_stream_id} is outside 0..2**31-1")
    return _frame(_TYPE_GOAWAY, 0, 0, _GOAWAY.pack(last_stream_id, error_code) + debug_data)


def encode_ping(payload: bytes, *, ack: bool = False) -> bytes:
    """Encode a PING frame with an 8-byte *payload*."""
    if len(payload) != 8:
        raise ValueError("a PING payload is exactly 8 bytes")
    return _frame(_TYPE_PING, _FLAG_ACK if ack else 0, 0, payload)


def encode_priority(stream_id: int, *, depends_on: int, weight: int, exclusive: bool) -> bytes:
    """Encode a PRIORITY frame; *weight* is the real weight 1..256 (sent as weight - 1)."""
    if not 1 <= weight <= 256:
        raise ValueError(f"priority weight {weight} is outside 1..256")
    if stream_id <= 0:
        raise ValueError("a PRIORITY frame needs a stream id above 0")
    dep = (depends_on & _MAX_STREAM_ID) | (0x80000000 if exclusive else 0)
    return _frame(_TYPE_PRIORITY, 0, stream_id, _PRIORITY.pack(dep, weight - 1))
