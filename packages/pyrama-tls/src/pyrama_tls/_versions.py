"""TLS protocol versions that pyrama-tls negotiates."""

from __future__ import annotations

import enum

from OpenSSL import SSL

__all__ = ["TlsVersion"]


class TlsVersion(enum.Enum):
    """A TLS protocol version, for the ``min_version``/``max_version`` settings.

    The value is the name OpenSSL reports (``"TLSv1.3"``), the same string
    :attr:`~pyrama_tls.NegotiatedTls.version` holds. Older versions (TLS 1.0/1.1, SSL) are not
    offered: OpenSSL's default security level refuses them anyway.
    """

    TLS1_2 = "TLSv1.2"
    """TLS 1.2 (RFC 5246)."""
    TLS1_3 = "TLSv1.3"
    """TLS 1.3 (RFC 8446)."""

    @property
    def openssl(self) -> int:
        """The OpenSSL protocol version number (``TLS1_3_VERSION``...)."""
        return _OPENSSL[self]

    @classmethod
    def parse(cls, value: TlsVersion | str) -> TlsVersion:
        """Accept a member or a name: ``"TLSv1.3"``, ``"1.3"``, ``"tls1.3"``, ``"TLS1_3"``."""
        if isinstance(value, TlsVersion):
            return value
        key = value.strip().lower().replace("_", ".").replace("tlsv", "").replace("tls", "")
        for member in cls:
            if member.value.lower().replace("tlsv", "") == key:
                return member
        raise ValueError(f"unknown TLS version {value!r} (use 'TLSv1.2' or 'TLSv1.3')")

    def __str__(self) -> str:
        return self.value


_OPENSSL: dict[TlsVersion, int] = {
    TlsVersion.TLS1_2: SSL.TLS1_2_VERSION,
    TlsVersion.TLS1_3: SSL.TLS1_3_VERSION,
}
