"""Public-key pinning: accept a server only if its leaf's SPKI-SHA256 is one of ours."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pyrama_tls.errors import PinMismatchError

__all__ = ["HasDigest", "PinLike", "check_pins", "normalize_pin", "spki_sha256_of"]


class HasDigest(Protocol):
    """Anything with a ``digest`` attribute of 32 bytes, like ``CertifiedKey.spki_sha256()``."""

    @property
    def digest(self) -> bytes:
        """The raw SHA-256 digest."""
        ...


PinLike: TypeAlias = bytes | str | HasDigest
"""A pin: 32 raw bytes, ``"sha256//<base64>"`` / ``"sha256/<base64>"`` / bare base64, 64 hex
digits, or an object with a 32-byte ``digest`` (``CertifiedKey.spki_sha256()``)."""

_DIGEST_SIZE = 32


def spki_sha256_of(cert: x509.Certificate) -> bytes:
    """The SHA-256 digest of *cert*'s DER ``SubjectPublicKeyInfo`` (what pins compare)."""
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def normalize_pin(pin: PinLike) -> bytes:
    """Turn any accepted pin form into its 32 raw digest bytes; ``ValueError`` if malformed."""
    if not isinstance(pin, bytes | bytearray | memoryview | str):
        digest = getattr(pin, "digest", None)
        if not isinstance(digest, bytes):
            raise ValueError(f"not a pin: {pin!r}")
        pin = digest
    if isinstance(pin, bytes | bytearray | memoryview):
        raw = bytes(pin)
        if len(raw) != _DIGEST_SIZE:
            raise ValueError(f"a raw SPKI-SHA256 pin has 32 bytes, got {len(raw)}")
        return raw
    text = pin.strip()
    # "sha256//<b64>" (curl) and "sha256/<b64>" (HPKP style) overlap when the base64 itself
    # starts with "/": try every reading and keep the one that decodes to a digest
    low = text.lower()
    candidates = [text[len(p) :] for p in ("sha256//", "sha256/") if low.startswith(p)] or [text]
    for candidate in candidates:
        decoded = _decode(candidate)
        if decoded is not None:
            return decoded
    raise ValueError(f"pin {pin!r} is neither base64 nor hex of a 32-byte digest")


def _decode(text: str) -> bytes | None:
    if len(text) == 2 * _DIGEST_SIZE:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    return raw if len(raw) == _DIGEST_SIZE else None


def check_pins(cert: x509.Certificate, pins: Iterable[bytes], *, role: str = "client") -> bytes:
    """Raise :class:`~pyrama_tls.errors.PinMismatchError` unless *cert* matches a pin.

    *pins* are raw digests (see :func:`normalize_pin`). Returns the matching digest.
    """
    wanted = tuple(pins)
    actual = spki_sha256_of(cert)
    for pin in wanted:
        if hmac.compare_digest(pin, actual):
            return actual
    shown = base64.b64encode(actual).decode("ascii")
    raise PinMismatchError(
        f"server key sha256//{shown} matches none of the {len(wanted)} configured pin(s)",
        role=role,
        actual=actual,
        pins=wanted,
    )
