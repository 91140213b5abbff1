"""CRC32C (Castagnoli), the checksum of the PROXY protocol v2 ``PP2_TYPE_CRC32C`` TLV."""

from __future__ import annotations

__all__ = ["crc32c"]

_POLY = 0x82F63B78  # 0x1EDC6F41 bit-reflected


def _make_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """The CRC32C (Castagnoli, reflected, as in iSCSI and RFC 3720) of *data*.

    Pass the result of an earlier call as *crc* to continue a checksum over several pieces:
    ``crc32c(b + c, 0) == crc32c(c, crc32c(b))``.
    """
    table = _TABLE
    c = crc ^ 0xFFFFFFFF
    for byte in bytes(data):
        c = table[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
