"""Building pyOpenSSL contexts from TlsAcceptorData / TlsConnectorData."""

from __future__ import annotations

from typing import TYPE_CHECKING

from OpenSSL import SSL, crypto

from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger
from pyrama_tls._keylog import KeyLogWriter, keylog_path
from pyrama_tls._openssl_ext import can_set_groups, can_set_sigalgs, set_groups, set_sigalgs
from pyrama_tls._tls_stream import SSL_MODE_ENABLE_PARTIAL_WRITE, record_verify
from pyrama_tls._trust import VerifyPaths, default_verify_paths
from pyrama_tls.errors import CertificateError

if TYPE_CHECKING:
    from cryptography import x509

    from pyrama_tls._config import _Common

__all__ = [
    "base_context",
    "load_ca_certificates",
    "load_system_trust",
    "set_peer_verification",
]

_log = get_logger(__name__)


def base_context(method: int, data: _Common, *, side: str) -> SSL.Context:
    """A context with the settings both ends share: versions, ciphers, groups, keylog."""
    ctx = SSL.Context(method)
    ctx.clear_mode(SSL_MODE_ENABLE_PARTIAL_WRITE)
    ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION)
    try:
        if data.min_version is not None:
            ctx.set_min_proto_version(data.min_version.openssl)
        if data.max_version is not None:
            ctx.set_max_proto_version(data.max_version.openssl)
        if data.cipher_list is not None:
            ctx.set_cipher_list(data.cipher_list.encode("ascii"))
        if data.ciphersuites is not None:
            ctx.set_tls13_ciphersuites(data.ciphersuites.encode("ascii"))
    except SSL.Error as exc:
        raise ConfigError(f"OpenSSL refused the {side} TLS settings: {exc}") from exc
    if data.groups is not None:
        if not can_set_groups():
            raise ConfigError("this OpenSSL binding cannot set key-exchange groups")
        if not set_groups(ctx, data.groups):
            raise ConfigError(f"OpenSSL refused the groups {data.groups!r}")
    if data.signature_algorithms is not None:
        if not can_set_sigalgs():
            raise ConfigError("this OpenSSL binding cannot set signature algorithms")
        if not set_sigalgs(ctx, data.signature_algorithms):
            raise ConfigError(
                f"OpenSSL refused the signature algorithms {data.signature_algorithms!r}"
            )
    path = keylog_path(data.keylog_file, from_env=data.keylog_from_env)
    if path is not None:
        ctx.set_keylog_callback(KeyLogWriter(path))
    return ctx


def load_ca_certificates(
    ctx: SSL.Context,
    certs: tuple[x509.Certificate, ...],
    ca_file: str | None,
    *,
    advertise: bool = False,
) -> None:
    """Trust *certs* and the PEM *ca_file* in *ctx* (a server *advertise*-s their names)."""
    from pyrama_tls._pem import read_certificates

    all_certs = list(certs)
    if ca_file is not None:
        all_certs.extend(read_certificates(ca_file))
    store = ctx.get_cert_store()
    if store is None:  # pragma: no cover - a fresh context always has a store
        raise CertificateError("the TLS context has no certificate store")
    for cert in all_certs:
        try:
            store.add_cert(crypto.X509.from_cryptography(cert))
        except crypto.Error as exc:
            # a duplicate is fine; anything else is a broken certificate
            if "already in hash table" not in str(exc):
                raise CertificateError(
                    f"cannot trust {cert.subject.rfc4514_string()}: {exc}"
                ) from exc
        if advertise:
            ctx.add_client_ca(cert)


def load_system_trust(ctx: SSL.Context) -> VerifyPaths:
    """Trust the system store (certifi's bundle when the system has none); return which.

    The store is found by :func:`~pyrama_tls.default_verify_paths` (``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``, then the system's paths, then certifi).
    """
    paths = default_verify_paths()
    paths.load_into(ctx)
    return paths


def set_peer_verification(ctx: SSL.Context, *, required: bool) -> None:
    """Verify the peer's chain (recording failures); *required*: refuse peers without one."""
    mode = SSL.VERIFY_PEER | (SSL.VERIFY_FAIL_IF_NO_PEER_CERT if required else 0)
    ctx.set_verify(mode, record_verify)
