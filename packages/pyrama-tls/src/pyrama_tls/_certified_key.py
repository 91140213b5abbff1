"""CertifiedKey: a certificate chain with the private key of its leaf."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pyrama_tls._keys import PrivateKey, check_private_key, public_key_der
from pyrama_tls.errors import CertificateError, KeyMismatchError

if TYPE_CHECKING:
    from OpenSSL import SSL, crypto

__all__ = ["CertifiedKey", "SpkiSha256", "private_key_pem"]


@dataclass(frozen=True, slots=True)
class SpkiSha256:
    """The SHA-256 digest of a ``SubjectPublicKeyInfo``: the value public-key pinning uses.

    ``str()`` gives the ``sha256//<base64>`` form that ``curl --pinnedpubkey`` takes.
    """

    digest: bytes
    """The raw 32-byte digest."""

    @property
    def base64(self) -> str:
        """The digest in standard base64 (the HPKP ``pin-sha256`` form)."""
        return base64.b64encode(self.digest).decode("ascii")

    @property
    def hex(self) -> str:
        """The digest in lowercase hexadecimal."""
        return self.digest.hex()

    def __str__(self) -> str:
        return f"sha256//{self.base64}"


def private_key_pem(key: PrivateKey, password: bytes | str | None = None) -> bytes:
    """*key* as PKCS#8 PEM, encrypted with *password* when one is given."""
    encryption: serialization.KeySerializationEncryption
    if password is None:
        encryption = serialization.NoEncryption()
    else:
        pw = password.encode("utf-8") if isinstance(password, str) else password
        if not pw:
            raise CertificateError("an empty password cannot encrypt a private key")
        encryption = serialization.BestAvailableEncryption(pw)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@dataclass(frozen=True, slots=True, eq=False, init=False, repr=False)
class CertifiedKey:
    """A certificate chain (leaf first) and the private key of the leaf.

    This is what a TLS server (or an mTLS client) presents. Construction checks that the chain is
    not empty, that the key is a supported kind, and that it belongs to the leaf; a wrong key raises
    :class:`~pyrama_tls.errors.KeyMismatchError`.

    ``chain`` holds what is sent on the wire: the leaf and any intermediates, usually not the
    root, which the peer must already trust.
    """

    chain: tuple[x509.Certificate, ...]
    """The certificates to present, leaf first, then each issuer up the chain."""

    key: PrivateKey
    """The leaf's private key."""

    _openssl: tuple[list[crypto.X509], crypto.PKey] | None = field(
        default=None, init=False, repr=False
    )

    def __init__(self, chain: Iterable[x509.Certificate], key: PrivateKey) -> None:
        certs = tuple(chain)
        if not certs:
            raise CertificateError("a certified key needs at least one certificate")
        for cert in certs:
            if not isinstance(cert, x509.Certificate):
                raise CertificateError(
                    f"a certificate chain holds x509.Certificate, got {type(cert).__name__}"
                )
        check_private_key(key)
        if public_key_der(certs[0].public_key()) != public_key_der(key):  # type: ignore[arg-type]
            raise KeyMismatchError(
                "the private key does not match the certificate's public key "
                f"(subject {certs[0].subject.rfc4514_string()!r})"
            )
        object.__setattr__(self, "chain", certs)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "_openssl", None)

    def __repr__(self) -> str:
        return (
            f"CertifiedKey(subject={self.leaf.subject.rfc4514_string()!r}, "
            f"names={self.dns_names()!r}, chain_len={len(self.chain)})"
        )

    @property
    def leaf(self) -> x509.Certificate:
        """The end-entity certificate (the first of :attr:`chain`)."""
        return self.chain[0]

    def dns_names(self) -> list[str]:
        """The DNS names in the leaf's subjectAltName (empty when it has none)."""
        try:
            san = self.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return san.value.get_values_for_type(x509.DNSName)

    def cert_pem(self) -> bytes:
        """The leaf certificate as PEM."""
        return self.leaf.public_bytes(serialization.Encoding.PEM)

    def chain_pem(self) -> bytes:
        """Every certificate of :attr:`chain` as concatenated PEM, leaf first."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def key_pem(self, password: bytes | str | None = None) -> bytes:
        """The private key as PKCS#8 PEM; encrypted with *password* when one is given."""
        return private_key_pem(self.key, password)

    def spki_sha256(self) -> SpkiSha256:
        """The SHA-256 pin of the leaf's public key (``.base64``, ``.hex``)."""
        return SpkiSha256(hashlib.sha256(public_key_der(self.key)).digest())

    def to_pyopenssl(self) -> tuple[list[crypto.X509], crypto.PKey]:
        """The chain and key as pyOpenSSL objects (``X509`` list, leaf first, and ``PKey``).

        Converted once, then cached. For APIs that still want pyOpenSSL's types; pyOpenSSL
        contexts now prefer the ``cryptography`` objects (passing ``X509``/``PKey`` to a
        ``Context`` is deprecated there), which is what :meth:`use_in_context` does.
        """
        cached = self._openssl
        if cached is None:
            from OpenSSL import crypto

            cached = (
                [crypto.X509.from_cryptography(c) for c in self.chain],
                crypto.PKey.from_cryptography_key(self.key),
            )
            object.__setattr__(self, "_openssl", cached)
        return cached

    def use_in_context(self, context: SSL.Context) -> None:
        """Install this chain and key in a pyOpenSSL ``Context`` and check they match."""
        from OpenSSL import SSL

        try:
            context.use_certificate(self.leaf)
            for cert in self.chain[1:]:
                context.add_extra_chain_cert(cert)
            context.use_privatekey(self.key)
            context.check_privatekey()
        except SSL.Error as exc:
            raise CertificateError(f"OpenSSL refused the certificate or key: {exc}") from exc
