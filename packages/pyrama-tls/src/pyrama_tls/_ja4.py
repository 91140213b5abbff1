"""JA4: the FoxIO TLS client fingerprint, from a :class:`~pyrama_tls.ClientHello`.

Implemented from FoxIO's specification (``technical_details/JA4.md`` in FoxIO-LLC/ja4, JA4 is
BSD-3-Clause) and checked against the reference implementation's output. The fingerprint is
``a_b_c``:

* ``a``: transport (``t`` TCP, ``q`` QUIC, ``d`` DTLS), the version (highest non-GREASE
  ``supported_versions`` entry, else ``legacy_version``; ``13``, ``12``, ... ``s3``, ``d2``,
  ``00`` when unknown), ``d`` when the SNI extension is present else ``i``, the number of
  cipher suites and of extensions (GREASE not counted, at most 99, two digits), and the first
  and last character of the first ALPN value (``00`` without ALPN; when either end byte is not
  an ASCII letter or digit, the first and last character of the value's hex form);
* ``b``: the cipher suites as 4-digit hex, GREASE removed, sorted, comma-joined;
* ``c``: the extension types the same way but without SNI (``0000``) and ALPN (``0010``),
  then ``_`` and the signature algorithms in wire order (the ``_`` part only when there are
  any).

``ja4`` hashes ``b`` and ``c`` (first 12 hex digits of SHA-256; an empty list gives
``000000000000``), ``ja4_r`` shows them raw. ``ja4_o`` / ``ja4_ro`` keep the wire order and
keep SNI and ALPN in ``c``. As in the reference implementation, when the sorted ``c`` is empty
the hashed original-order ``c`` is ``000000000000`` too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from pyrama_tls._client_hello import ClientHello
from pyrama_tls._grease import GREASE_VALUES

__all__ = ["Ja4", "ja4"]

_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_EMPTY_HASH = "000000000000"
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class Ja4:
    """The four JA4 forms of one ClientHello."""

    ja4: str
    """Sorted and hashed: ``t13d1516h2_8daaf6152771_e5627efa2ab1``."""
    ja4_r: str
    """Sorted, raw lists instead of hashes."""
    ja4_o: str
    """Original (wire) order, hashed."""
    ja4_ro: str
    """Original (wire) order, raw."""

    def __str__(self) -> str:
        return self.ja4


def _hash12(text: str) -> str:
    if not text:
        return _EMPTY_HASH
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def _alpn_chars(ch: ClientHello) -> str:
    if not ch.alpn or not ch.alpn[0]:
        return "00"
    raw = ch.alpn[0].encode("latin-1")
    first, last = raw[0], raw[-1]
    if first in _ALNUM and last in _ALNUM:
        return chr(first) + chr(last)
    hexed = raw.hex()
    return hexed[0] + hexed[-1]


def ja4(ch: ClientHello, transport: Literal["t", "q", "d"] = "t") -> Ja4:
    """Compute the JA4 fingerprint of *ch*.

    *transport* is ``"t"`` for TLS over TCP (the default), ``"q"`` for QUIC and ``"d"`` for
    DTLS: the ClientHello alone does not say which.
    """
    if transport not in ("t", "q", "d"):
        raise ValueError(f"transport must be 't', 'q' or 'd', not {transport!r}")
    ciphers = [f"{c:04x}" for c in ch.cipher_suites if c not in GREASE_VALUES]
    ext_types = [t for t in ch.extension_types if t not in GREASE_VALUES]
    exts_o = [f"{t:04x}" for t in ext_types]
    exts_s = sorted(f"{t:04x}" for t in ext_types if t not in (0x0000, 0x0010))
    sigs = ",".join(f"{s:04x}" for s in ch.signature_algorithms if s not in GREASE_VALUES)

    version = _VERSIONS.get(ch.max_version, "00")
    sni = "d" if 0x0000 in ext_types else "i"
    a = (
        f"{transport}{version}{sni}{min(len(ciphers), 99):02d}{min(len(ext_types), 99):02d}"
        f"{_alpn_chars(ch)}"
    )
    tail = "_" + sigs if sigs else ""
    b_sorted = ",".join(sorted(ciphers))
    b_orig = ",".join(ciphers)
    c_sorted = ",".join(exts_s) + tail
    c_orig = ",".join(exts_o) + tail
    c_orig_hash = _hash12(c_orig) if c_sorted else _EMPTY_HASH
    return Ja4(
        ja4=f"{a}_{_hash12(b_sorted)}_{_hash12(c_sorted)}",
        ja4_r=f"{a}_{b_sorted}_{c_sorted}",
        ja4_o=f"{a}_{_hash12(b_orig)}_{c_orig_hash}",
        ja4_ro=f"{a}_{b_orig}_{c_orig}",
    )
