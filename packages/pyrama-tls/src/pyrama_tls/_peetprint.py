"""PeetPrint: the TLS fingerprint shown by tls.peet.ws (pagpeter's TrackMe).

There is no formal specification; the definition is TrackMe's README ("Custom Fingerprint
(PeetPrint)") and the code serving tls.peet.ws. This module follows both:

``versions|protocols|groups|signature_algorithms|psk_mode|cert_compression|ciphers|extensions``

* every list is decimal values joined by ``-``, in wire order, GREASE values written
  ``GREASE`` (not removed);
* ``versions``: the ``supported_versions`` extension;
* ``protocols``: ALPN values mapped ``h2`` -> ``2``, ``http/1.1`` -> ``1.1``,
  ``http/1.0`` -> ``1.0`` (case-insensitive); other protocols are left out;
* ``groups``: ``supported_groups``; ``signature_algorithms``: ``signature_algorithms``;
* ``psk_mode``: the first ``psk_key_exchange_modes`` entry, ``0`` when the extension is
  absent (what tls.peet.ws prints; rama's port prints an empty field instead);
* ``cert_compression``: ``compress_certificate`` algorithms;
* ``ciphers``: cipher suites; ``extensions``: extension types (GREASE included), sorted as
  *strings* (so ``0-10-11-13-16-...-5-51-65281-GREASE``), because Chrome shuffles the order.

The hash is the MD5 of the string, 32 lowercase hex digits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from pyrama_tls._client_hello import ClientHello
from pyrama_tls._grease import GREASE_VALUES

__all__ = ["PeetPrint", "peetprint"]

_PROTOCOLS = {"h2": "2", "http/1.1": "1.1", "http/1.0": "1.0"}


@dataclass(frozen=True, slots=True)
class PeetPrint:
    """A PeetPrint fingerprint: the ``|``-separated :attr:`string` and its MD5 :attr:`hash`."""

    string: str
    """``versions|protocols|groups|signature_algorithms|psk_mode|cert_compression|ciphers|
    extensions``."""
    hash: str
    """MD5 of :attr:`string`, 32 lowercase hex digits."""

    def __str__(self) -> str:
        return self.hash


def _field(values: Iterable[int]) -> str:
    return "-".join("GREASE" if v in GREASE_VALUES else str(v) for v in values)


def peetprint(ch: ClientHello) -> PeetPrint:
    """Compute the PeetPrint fingerprint of *ch* (see the module docs for the definition)."""
    protocols = "-".join(_PROTOCOLS[p.lower()] for p in ch.alpn if p.lower() in _PROTOCOLS)
    psk_mode = str(ch.psk_key_exchange_modes[0]) if ch.psk_key_exchange_modes else "0"
    extensions = sorted("GREASE" if t in GREASE_VALUES else str(t) for t in ch.extension_types)
    text = "|".join(
        (
            _field(ch.supported_versions),
            protocols,
            _field(ch.supported_groups),
            _field(ch.signature_algorithms),
            psk_mode,
            _field(ch.certificate_compression_algorithms),
            _field(ch.cipher_suites),
            "-".join(extensions),
        )
    )
    return PeetPrint(text, hashlib.md5(text.encode("ascii"), usedforsecurity=False).hexdigest())
