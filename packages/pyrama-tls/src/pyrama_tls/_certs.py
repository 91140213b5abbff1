"""Building certificates: leaf certificates (CA-signed or self-signed) and their extensions."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pyrama_tls._cert_names import CertName, SanEntries, san_entries
from pyrama_tls._certified_key import CertifiedKey
from pyrama_tls._keys import (
    DEFAULT_KEY_KIND,
    KeyKind,
    PrivateKey,
    PublicKey,
    check_private_key,
    generate_private_key,
    signature_hash,
)
from pyrama_tls.errors import CertificateError

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_LEAF_VALIDITY",
    "build_leaf",
    "random_serial",
    "self_signed_leaf",
    "utc_now",
]

DEFAULT_LEAF_VALIDITY = dt.timedelta(days=365)
"""How long a leaf certificate is valid by default (under the 398 days browsers accept)."""

CLOCK_SKEW = dt.timedelta(hours=1)
"""How far in the past ``notBefore`` is set, so peers with a slow clock accept a new cert."""


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def random_serial() -> int:
    """A random, positive serial number that encodes in at most 16 bytes (127 random bits)."""
    return secrets.randbits(127) or 1


def check_validity(validity: dt.timedelta) -> dt.timedelta:
    """Return *validity* if it is a positive ``timedelta``; else raise ``CertificateError``."""
    if not isinstance(validity, dt.timedelta) or validity <= dt.timedelta(0):
        raise CertificateError(f"validity must be a positive timedelta, got {validity!r}")
    return validity


def build_leaf(
    *,
    sans: SanEntries,
    public_key: PublicKey,
    issuer: x509.Name | None,
    issuer_key: PrivateKey,
    issuer_ski: x509.SubjectKeyIdentifier | None,
    validity: dt.timedelta,
    not_before_floor: dt.datetime | None = None,
    not_after_cap: dt.datetime | None = None,
    server_auth: bool = True,
    client_auth: bool = False,
    subject_key_id: x509.SubjectKeyIdentifier | None = None,
) -> x509.Certificate:
    """Sign one end-entity certificate.

    *issuer* ``None`` means self-signed (issuer = subject, *issuer_key* is the leaf's own key).
    ``notBefore`` is :data:`CLOCK_SKEW` in the past (not before *not_before_floor*, the issuer's
    own start), ``notAfter`` is *validity* later (capped at *not_after_cap*, the issuer's end).
    """
    if not (server_auth or client_auth):
        raise CertificateError("a leaf certificate needs server_auth, client_auth or both")
    now = utc_now()
    not_before = now - CLOCK_SKEW
    if not_before_floor is not None and not_before < not_before_floor:
        not_before = not_before_floor
    not_after = now + validity
    if not_after_cap is not None and not_after > not_after_cap:
        not_after = not_after_cap
    if not_after <= now:
        raise CertificateError("the issuing certificate has expired; cannot issue a leaf")

    cn = sans.common_name
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    if issuer is None:
        if not cn:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyrama self-signed")])
        issuer = subject
    ski = subject_key_id or x509.SubjectKeyIdentifier.from_public_key(public_key)
    aki_source = ski if issuer_ski is None else issuer_ski
    usages = []
    if server_auth:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        # RFC 5280 4.2.1.6: with an empty subject, the SAN extension must be critical.
        .add_extension(sans.extension(), critical=len(subject) == 0)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(aki_source),
            critical=False,
        )
    )
    return builder.sign(issuer_key, signature_hash(issuer_key))


def self_signed_leaf(
    names: Iterable[CertName] = ("localhost",),
    ips: Iterable[str | IPv4Address | IPv6Address] = (),
    *,
    validity: dt.timedelta = DEFAULT_LEAF_VALIDITY,
    key: PrivateKey | None = None,
    key_kind: KeyKind = DEFAULT_KEY_KIND,
    server_auth: bool = True,
    client_auth: bool = False,
) -> CertifiedKey:
    """A self-signed end-entity certificate for *names* and *ips* (tests, development, pinning).

    The subject CN is the first name; the subjectAltName holds every DNS name and IP (IP text in
    *names* counts as an IP). The certificate is not a CA: clients trust it by pinning or by
    adding it as a trust anchor. A fresh *key_kind* key is generated unless *key* is given.
    """
    sans = san_entries(names, ips)
    leaf_key = check_private_key(key) if key is not None else generate_private_key(key_kind)
    cert = build_leaf(
        sans=sans,
        public_key=leaf_key.public_key(),
        issuer=None,
        issuer_key=leaf_key,
        issuer_ski=None,
        validity=check_validity(validity),
        server_auth=server_auth,
        client_auth=client_auth,
    )
    return CertifiedKey([cert], leaf_key)
