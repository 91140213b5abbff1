"""CertificateAuthority: generate a CA and issue leaf certificates with it."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from pyrama_tls._cert_names import CertName, SanEntries, san_entries
from pyrama_tls._certified_key import CertifiedKey, SpkiSha256, private_key_pem
from pyrama_tls._certs import (
    CLOCK_SKEW,
    DEFAULT_LEAF_VALIDITY,
    build_leaf,
    check_validity,
    random_serial,
    utc_now,
)
from pyrama_tls._keys import (
    DEFAULT_KEY_KIND,
    KeyKind,
    PrivateKey,
    check_private_key,
    generate_private_key,
    public_key_der,
    signature_hash,
)
from pyrama_tls.errors import CertificateError, KeyMismatchError

__all__ = ["DEFAULT_CA_VALIDITY", "CertificateAuthority"]

DEFAULT_CA_VALIDITY = dt.timedelta(days=3650)
"""How long a generated CA certificate is valid by default (ten years)."""


def _ski_of(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key())


class CertificateAuthority:
    """A CA certificate and its private key, able to issue leaf certificates.

    Make one with :meth:`generate`, or load one from PEM files with :meth:`load`. A loaded CA may
    be an intermediate: then *chain* holds the certificates above it (excluding the root), and
    issued leaves carry the CA certificate and that chain so peers can build the path.
    """

    __slots__ = ("_ski", "cert", "chain", "key")

    cert: x509.Certificate
    """The CA certificate."""

    key: PrivateKey
    """The CA's private key."""

    chain: tuple[x509.Certificate, ...]
    """Certificates above an intermediate CA, to send after it (empty for a root)."""

    def __init__(
        self, cert: x509.Certificate, key: PrivateKey, chain: Iterable[x509.Certificate] = ()
    ) -> None:
        check_private_key(key)
        if public_key_der(cert.public_key()) != public_key_der(key):  # type: ignore[arg-type]
            raise KeyMismatchError(
                "the private key does not match the CA certificate "
                f"(subject {cert.subject.rfc4514_string()!r})"
            )
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        if bc is None or not bc.ca:
            raise CertificateError(
                f"certificate {cert.subject.rfc4514_string()!r} is not a CA (basicConstraints "
                "CA:TRUE missing)"
            )
        self.cert = cert
        self.key = key
        self.chain = tuple(chain)
        self._ski = _ski_of(cert)

    def __repr__(self) -> str:
        return f"CertificateAuthority(subject={self.cert.subject.rfc4514_string()!r})"

    @classmethod
    def generate(
        cls,
        common_name: str = "pyrama CA",
        *,
        organization: str | None = None,
        validity: dt.timedelta = DEFAULT_CA_VALIDITY,
        key: PrivateKey | None = None,
        key_kind: KeyKind = DEFAULT_KEY_KIND,
    ) -> CertificateAuthority:
        """A new self-signed root CA named *common_name*.

        The certificate has basicConstraints ``CA:TRUE, pathlen:0`` (it signs leaves only),
        keyUsage ``keyCertSign, cRLSign``, and subject/authority key identifiers. A fresh
        *key_kind* key is generated unless *key* is given.
        """
        if not common_name or len(common_name) > 64:
            raise CertificateError("a CA common name must be 1 to 64 characters long")
        ca_key = check_private_key(key) if key is not None else generate_private_key(key_kind)
        attrs = []
        if organization:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        name = x509.Name(attrs)
        now = utc_now()
        public = ca_key.public_key()
        ski = x509.SubjectKeyIdentifier.from_public_key(public)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(random_serial())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + check_validity(validity))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .sign(ca_key, signature_hash(ca_key))
        )
        return cls(cert, ca_key)

    @property
    def is_root(self) -> bool:
        """Whether the CA certificate is self-issued (a root), not an intermediate."""
        return self.cert.issuer == self.cert.subject

    def cert_pem(self) -> bytes:
        """The CA certificate as PEM (what clients add to their trust store)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: bytes | str | None = None) -> bytes:
        """The CA private key as PKCS#8 PEM; encrypted with *password* when one is given."""
        return private_key_pem(self.key, password)

    def spki_sha256(self) -> SpkiSha256:
        """The SHA-256 pin of the CA's public key."""
        import hashlib

        return SpkiSha256(hashlib.sha256(public_key_der(self.key)).digest())

    def issue_leaf(
        self,
        names: Iterable[CertName] = (),
        ips: Iterable[str | IPv4Address | IPv6Address] = (),
        *,
        validity: dt.timedelta = DEFAULT_LEAF_VALIDITY,
        key: PrivateKey | None = None,
        key_kind: KeyKind = DEFAULT_KEY_KIND,
        server_auth: bool = True,
        client_auth: bool = False,
    ) -> CertifiedKey:
        """Issue a leaf certificate for *names* (DNS names, ``*.`` wildcards, IP text) and *ips*.

        The leaf has the first name as CN, every name and IP in its subjectAltName, EKU
        serverAuth (and clientAuth with *client_auth*, for mTLS client certificates; set
        *server_auth* false for a client-only certificate), keyUsage digitalSignature (plus
        keyEncipherment for RSA), no CA bit, a random serial, and ``notBefore`` an hour in the
        past; ``notAfter`` never passes the CA's own. A fresh *key_kind* key is generated
        unless *key* is given. Raise :class:`~pyrama_tls.errors.CertificateNameError` for an
        invalid name.
        """
        return self.issue_for(
            san_entries(names, ips),
            key=check_private_key(key) if key is not None else generate_private_key(key_kind),
            validity=validity,
            server_auth=server_auth,
            client_auth=client_auth,
        )

    def issue_for(
        self,
        sans: SanEntries,
        *,
        key: PrivateKey,
        validity: dt.timedelta = DEFAULT_LEAF_VALIDITY,
        server_auth: bool = True,
        client_auth: bool = False,
        subject_key_id: x509.SubjectKeyIdentifier | None = None,
    ) -> CertifiedKey:
        """Issue a leaf for already validated *sans* with *key* (the fast path issuers use)."""
        cert = build_leaf(
            sans=sans,
            public_key=key.public_key(),
            issuer=self.cert.subject,
            issuer_key=self.key,
            issuer_ski=self._ski,
            validity=check_validity(validity),
            not_before_floor=self.cert.not_valid_before_utc,
            not_after_cap=self.cert.not_valid_after_utc,
            server_auth=server_auth,
            client_auth=client_auth,
            subject_key_id=subject_key_id,
        )
        chain = (cert,) if self.is_root else (cert, self.cert, *self.chain)
        return CertifiedKey(chain, key)

    def save(
        self,
        target: str | os.PathLike[str],
        key_path: str | os.PathLike[str] | None = None,
        *,
        password: bytes | str | None = None,
    ) -> tuple[str, str]:
        """Write the CA as PEM; return the ``(cert_path, key_path)`` written.

        With one argument *target* is a directory (created with mode 0700 if missing) and the
        files are ``ca-cert.pem`` and ``ca-key.pem`` in it; with two, they are the certificate
        and key paths. The key file is created with mode 0600 (never wider, whatever the umask),
        the certificate with 0644; both are replaced atomically.
        """
        from pyrama_tls._pem import ca_paths, write_private_file, write_public_file

        cert_path, key_file = ca_paths(target, key_path, create_dir=True)
        write_private_file(key_file, self.key_pem(password))
        write_public_file(cert_path, b"".join([self.cert_pem(), *_pem_all(self.chain)]))
        return cert_path, key_file

    @classmethod
    def load(
        cls,
        target: str | os.PathLike[str],
        key_path: str | os.PathLike[str] | None = None,
        *,
        password: bytes | str | None = None,
    ) -> CertificateAuthority:
        """Load a CA saved by :meth:`save` (same argument forms).

        The certificate file may hold the CA certificate followed by its chain. Raise a
        :class:`~pyrama_tls.errors.CertificateError` subclass for unreadable files, bad PEM, a
        wrong password, a key that does not match, or a certificate that is not a CA.
        """
        from pyrama_tls._pem import ca_paths, read_certificates, read_private_key

        cert_path, key_file = ca_paths(target, key_path, create_dir=False)
        certs = read_certificates(cert_path)
        key = read_private_key(key_file, password)
        return cls(certs[0], key, certs[1:])

    @classmethod
    def load_or_generate(
        cls,
        directory: str | os.PathLike[str],
        common_name: str = "pyrama CA",
        *,
        password: bytes | str | None = None,
        key_kind: KeyKind = DEFAULT_KEY_KIND,
    ) -> CertificateAuthority:
        """Load the CA saved in *directory*, or generate, save and return a new one.

        This is how a MITM proxy keeps one CA across restarts, so clients trust it once.
        """
        from pyrama_tls._pem import ca_paths

        cert_path, key_file = ca_paths(directory, None, create_dir=False)
        if os.path.exists(cert_path) or os.path.exists(key_file):
            return cls.load(directory, password=password)
        ca = cls.generate(common_name, key_kind=key_kind)
        ca.save(directory, password=password)
        return ca


def _pem_all(certs: Iterable[x509.Certificate]) -> list[bytes]:
    return [c.public_bytes(serialization.Encoding.PEM) for c in certs]
