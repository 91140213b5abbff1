"""Private keys: generation, kinds, and the signature hash each kind signs with."""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pyrama_tls.errors import UnsupportedKeyError

__all__ = [
    "DEFAULT_KEY_KIND",
    "KeyKind",
    "PrivateKey",
    "PublicKey",
    "check_private_key",
    "generate_private_key",
    "key_kind_of",
    "public_key_der",
    "signature_hash",
]

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
"""A private key pyrama-tls can certify and sign with (ECDSA, RSA or Ed25519)."""

PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
"""The public half of a :data:`PrivateKey`."""

KeyKind = Literal["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
"""The key kinds :func:`generate_private_key` makes.

``ec-p256`` (ECDSA on NIST P-256) is the default: fast to generate and to sign with, and
accepted by every TLS client in use. ``rsa-*`` suits old clients; ``ed25519`` is compact but
not accepted by browsers for server certificates.
"""

DEFAULT_KEY_KIND: KeyKind = "ec-p256"
"""The key kind used when none is named."""

_KINDS: frozenset[str] = frozenset(get_args(KeyKind))
_CURVES: dict[str, ec.EllipticCurve] = {"ec-p256": ec.SECP256R1(), "ec-p384": ec.SECP384R1()}
_RSA_BITS: dict[str, int] = {"rsa-2048": 2048, "rsa-3072": 3072, "rsa-4096": 4096}


def generate_private_key(kind: KeyKind = DEFAULT_KEY_KIND) -> PrivateKey:
    """Generate a fresh private key of *kind* (see :data:`KeyKind`).

    Raise :class:`~pyrama_tls.errors.UnsupportedKeyError` for an unknown kind.
    """
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind])
    if kind in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[kind])
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise UnsupportedKeyError(
        f"unknown key kind {kind!r}; expected one of {', '.join(sorted(_KINDS))}"
    )


def check_private_key(key: object) -> PrivateKey:
    """Return *key* if it is a supported private key; else raise ``UnsupportedKeyError``.

    Supported: ECDSA on P-256/P-384/P-521, RSA of at least 2048 bits, Ed25519.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in {"secp256r1", "secp384r1", "secp521r1"}:
            raise UnsupportedKeyError(f"ECDSA curve {key.curve.name} is not supported for TLS")
        return key
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise UnsupportedKeyError(f"an RSA key of {key.key_size} bits is too weak (< 2048)")
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise UnsupportedKeyError(f"unsupported private key type {type(key).__name__}")


def key_kind_of(key: PrivateKey | PublicKey) -> str:
    """A short description of *key*'s kind: ``ec-p256``, ``rsa-3072``, ``ed25519``, ..."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}.get(
            key.curve.name, f"ec-{key.curve.name}"
        )
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    return "ed25519"


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The hash a certificate signed by *key* uses (``None`` for Ed25519, which has its own)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size > 384:
            return hashes.SHA512()
        if key.curve.key_size > 256:
            return hashes.SHA384()
        return hashes.SHA256()
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    return None


def public_key_der(key: PrivateKey | PublicKey) -> bytes:
    """The DER ``SubjectPublicKeyInfo`` of *key* (its public half for a private key)."""
    public = (
        key.public_key()
        if isinstance(
            key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        )
        else key
    )
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
