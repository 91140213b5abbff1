"""JA3: the Salesforce TLS client fingerprint (2017), from a :class:`~pyrama_tls.ClientHello`.

``SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats``: decimal values,
lists joined by ``-``, GREASE values removed, everything in wire order; the fingerprint is the
MD5 of that string. ``SSLVersion`` is the ClientHello's ``legacy_version`` (``771`` for every
TLS 1.2 and 1.3 client), not the record version and not ``supported_versions``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from pyrama_tls._client_hello import ClientHello
from pyrama_tls._grease import GREASE_VALUES

__all__ = ["Ja3", "ja3"]


@dataclass(frozen=True, slots=True)
class Ja3:
    """A JA3 fingerprint: the comma-separated :attr:`string` and its MD5 :attr:`hash`."""

    string: str
    """``SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats``."""
    hash: str
    """MD5 of :attr:`string`, 32 lowercase hex digits (the usual "JA3 hash")."""

    def __str__(self) -> str:
        return self.hash


def _join(values: Iterable[int]) -> str:
    return "-".join(str(v) for v in values if v not in GREASE_VALUES)


def ja3(ch: ClientHello) -> Ja3:
    """Compute the JA3 fingerprint of *ch*."""
    text = ",".join(
        (
            str(ch.legacy_version),
            _join(ch.cipher_suites),
            _join(ch.extension_types),
            _join(ch.supported_groups),
            "-".join(str(v) for v in ch.ec_point_formats),
        )
    )
    return Ja3(text, hashlib.md5(text.encode("ascii"), usedforsecurity=False).hexdigest())
