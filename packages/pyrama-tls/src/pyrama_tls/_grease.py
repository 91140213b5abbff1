"""GREASE values (RFC 8701): reserved code points clients send to keep servers tolerant."""

from __future__ import annotations

__all__ = ["GREASE_VALUES", "is_grease"]

GREASE_VALUES: frozenset[int] = frozenset(0x0A0A + 0x1010 * i for i in range(16))
"""The sixteen 16-bit GREASE values ``0x0a0a, 0x1a1a, ..., 0xfafa`` (RFC 8701 section 2).

They are reserved for cipher suites, extension types, named groups, signature algorithms and
versions, so one set serves every 16-bit field of a ClientHello.
"""


def is_grease(value: int) -> bool:
    """Whether *value* is one of the 16-bit GREASE values (``0x?a?a`` with equal bytes)."""
    return value in GREASE_VALUES
