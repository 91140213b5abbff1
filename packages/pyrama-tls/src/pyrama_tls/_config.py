"""TlsAcceptorData and TlsConnectorData: what a TLS server or client is configured with."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509

from pyrama_core.errors import ConfigError
from pyrama_tls._certified_key import CertifiedKey
from pyrama_tls._pinning import PinLike, normalize_pin
from pyrama_tls._versions import TlsVersion

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "CertificateIssuer",
    "ClientAuth",
    "TlsAcceptorData",
    "TlsConnectorData",
]

DEFAULT_HANDSHAKE_TIMEOUT = 10.0
"""Seconds a TLS handshake may take (ClientHello peek included) unless configured otherwise."""

_MAX_CACHED = 1024


class ClientAuth(enum.Enum):
    """Whether a TLS server asks clients for a certificate (mutual TLS)."""

    NONE = "none"
    """Do not ask."""
    OPTIONAL = "optional"
    """Ask; accept clients without one, refuse clients whose certificate does not verify."""
    REQUIRED = "required"
    """Ask and refuse clients without a verifying certificate."""


class CertificateIssuer(Protocol):
    """Something that gives the certificate to present for a server name (SNI).

    :class:`~pyrama_tls.DynamicIssuer` is one (it mints and caches a leaf per name); so is any
    object with this method. It is called just before the handshake when the ClientHello was
    peeked (through an async ``get(server_name)`` when the issuer has one), else from inside
    the handshake, so it should be fast: cache. It may raise (for a garbage name): the
    handshake then fails.
    """

    def certified_key_for(self, server_name: str, /) -> CertifiedKey:
        """The certified key to present for *server_name*."""
        ...


def _alpn_tuple(values: Iterable[str | bytes], what: str) -> tuple[bytes, ...]:
    if isinstance(values, str | bytes):
        raise ConfigError(f"{what} must be a list of protocol names, not a single string")
    out: list[bytes] = []
    for v in values:
        raw = v.encode("latin-1") if isinstance(v, str) else bytes(v)
        if not 0 < len(raw) < 256:
            raise ConfigError(f"{what}: protocol names are 1..255 bytes, got {v!r}")
        if raw not in out:
            out.append(raw)
    return tuple(out)


def _colon_list(values: str | Iterable[str] | None, what: str) -> str | None:
    if values is None:
        return None
    text = values if isinstance(values, str) else ":".join(values)
    if not text or any(c.isspace() for c in text) or not text.isascii():
        raise ConfigError(f"{what} must be non-empty ASCII names without spaces, got {values!r}")
    return text


def _check_versions(
    min_version: TlsVersion | str | None, max_version: TlsVersion | str | None
) -> tuple[TlsVersion | None, TlsVersion | None]:
    try:
        lo = None if min_version is None else TlsVersion.parse(min_version)
        hi = None if max_version is None else TlsVersion.parse(max_version)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if lo is not None and hi is not None and lo.openssl > hi.openssl:
        raise ConfigError(f"min_version {lo} is above max_version {hi}")
    return lo, hi


def _check_timeout(value: float | None, what: str) -> None:
    if value is not None and not value > 0:
        raise ConfigError(f"{what} must be > 0 seconds or None, got {value!r}")


def _path_or_none(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Common:
    """Settings both ends share."""

    alpn: tuple[bytes, ...] = ()
    min_version: TlsVersion | None = TlsVersion.TLS1_2
    max_version: TlsVersion | None = None
    cipher_list: str | None = None
    ciphersuites: str | None = None
    groups: str | None = None
    signature_algorithms: str | None = None
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT
    keylog_file: str | None = None
    keylog_from_env: bool = True


def _common_kwargs(
    *,
    alpn: Iterable[str | bytes],
    min_version: TlsVersion | str | None,
    max_version: TlsVersion | str | None,
    cipher_list: str | Iterable[str] | None,
    ciphersuites: str | Iterable[str] | None,
    groups: str | Iterable[str] | None,
    signature_algorithms: str | Iterable[str] | None,
    handshake_timeout: float | None,
    keylog_file: str | os.PathLike[str] | None,
    keylog_from_env: bool,
) -> dict[str, Any]:
    lo, hi = _check_versions(min_version, max_version)
    _check_timeout(handshake_timeout, "handshake_timeout")
    return {
        "alpn": _alpn_tuple(alpn, "alpn"),
        "min_version": lo,
        "max_version": hi,
        "cipher_list": _colon_list(cipher_list, "cipher_list"),
        "ciphersuites": _colon_list(ciphersuites, "ciphersuites"),
        "groups": _colon_list(groups, "groups"),
        "signature_algorithms": _colon_list(signature_algorithms, "signature_algorithms"),
        "handshake_timeout": handshake_timeout,
        "keylog_file": _path_or_none(keylog_file),
        "keylog_from_env": bool(keylog_from_env),
    }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, init=False)
class TlsAcceptorData(_Common):
    """How a TLS server (:class:`~pyrama_tls.TlsAcceptorLayer`) handshakes.

    The certificate comes from *certified_key* (one chain for every client; see
    :meth:`from_pem_files` and :meth:`self_signed`) or from *issuer* (a
    :class:`CertificateIssuer` such as :class:`~pyrama_tls.DynamicIssuer`, asked per SNI; a
    context is built per certificate it returns, at most *max_cached_contexts* kept). With
    both, *certified_key* serves clients that send no SNI; with *issuer* alone such clients
    are refused.

    * *alpn*: our preference, e.g. ``["h2", "http/1.1"]``: the first of ours the client offered
      wins. With no overlap the handshake goes on without ALPN, unless *alpn_strict*, which
      refuses the client (``no_application_protocol`` alert). Clients that offer no ALPN at all
      are always accepted.
    * *min_version*/*max_version*: :class:`~pyrama_tls.TlsVersion` bounds (default TLS 1.2+).
    * *client_auth* with *client_ca* (certificates) and/or *client_ca_file* (PEM): mutual TLS.
    * *cipher_list* (TLS 1.2, OpenSSL syntax), *ciphersuites* (TLS 1.3), *groups*
      (``["X25519", "P-256"]``), *signature_algorithms* (``["ECDSA+SHA256", ...]``): strings
      or lists, passed to OpenSSL, which refuses unknown names (:class:`ConfigError`).
    * *handshake_timeout*: seconds for the ClientHello peek plus the handshake.
    * *keylog_file*, else ``$SSLKEYLOGFILE`` when *keylog_from_env*: where to log secrets.
    * *peek_client_hello*: parse the ClientHello before the handshake (it is then in
      :attr:`~pyrama_tls.NegotiatedTls.client_hello`), at most *client_hello_max_size* bytes.
    """

    certified_key: CertifiedKey | None = None
    issuer: CertificateIssuer | None = None
    alpn_strict: bool = False
    client_auth: ClientAuth = ClientAuth.NONE
    client_ca: tuple[x509.Certificate, ...] = ()
    client_ca_file: str | None = None
    peek_client_hello: bool = True
    client_hello_max_size: int = 16384
    max_cached_contexts: int = _MAX_CACHED

    def __init__(
        self,
        *,
        certified_key: CertifiedKey | None = None,
        issuer: CertificateIssuer | None = None,
        alpn: Iterable[str | bytes] = (),
        alpn_strict: bool = False,
        min_version: TlsVersion | str | None = TlsVersion.TLS1_2,
        max_version: TlsVersion | str | None = None,
        client_auth: ClientAuth | str = ClientAuth.NONE,
        client_ca: Iterable[x509.Certificate] = (),
        client_ca_file: str | os.PathLike[str] | None = None,
        cipher_list: str | Iterable[str] | None = None,
        ciphersuites: str | Iterable[str] | None = None,
        groups: str | Iterable[str] | None = None,
        signature_algorithms: str | Iterable[str] | None = None,
        handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
        keylog_file: str | os.PathLike[str] | None = None,
        keylog_from_env: bool = True,
        peek_client_hello: bool = True,
        client_hello_max_size: int = 16384,
        max_cached_contexts: int = _MAX_CACHED,
    ) -> None:
        """Validate and store the settings (see the class docs); :class:`ConfigError` if wrong."""
        if certified_key is None and issuer is None:
            raise ConfigError("give certified_key, issuer, or both")
        if certified_key is not None and not isinstance(certified_key, CertifiedKey):
            raise ConfigError(f"certified_key must be a CertifiedKey, got {certified_key!r}")
        if issuer is not None and not callable(getattr(issuer, "certified_key_for", None)):
            raise ConfigError("issuer must have a certified_key_for(server_name) method")
        try:
            auth = ClientAuth(client_auth) if isinstance(client_auth, str) else client_auth
        except ValueError as exc:
            raise ConfigError(f"client_auth must be none/optional/required: {exc}") from exc
        cas = tuple(client_ca)
        for ca in cas:
            if not isinstance(ca, x509.Certificate):
                raise ConfigError(f"client_ca holds x509.Certificate objects, got {ca!r}")
        ca_file = _path_or_none(client_ca_file)
        if auth is not ClientAuth.NONE and not cas and ca_file is None:
            raise ConfigError("client_auth needs client_ca or client_ca_file to verify against")
        if client_hello_max_size < 512:
            raise ConfigError("client_hello_max_size must be at least 512 bytes")
        if max_cached_contexts < 1:
            raise ConfigError("max_cached_contexts must be at least 1")
        common = _common_kwargs(
            alpn=alpn,
            min_version=min_version,
            max_version=max_version,
            cipher_list=cipher_list,
            ciphersuites=ciphersuites,
            groups=groups,
            signature_algorithms=signature_algorithms,
            handshake_timeout=handshake_timeout,
            keylog_file=keylog_file,
            keylog_from_env=keylog_from_env,
        )
        for name, value in common.items():
            object.__setattr__(self, name, value)
        for name, value in (
            ("certified_key", certified_key),
            ("issuer", issuer),
            ("alpn_strict", bool(alpn_strict)),
            ("client_auth", auth),
            ("client_ca", cas),
            ("client_ca_file", ca_file),
            ("peek_client_hello", bool(peek_client_hello)),
            ("client_hello_max_size", int(client_hello_max_size)),
            ("max_cached_contexts", int(max_cached_contexts)),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def from_pem_files(
        cls,
        cert_path: str | os.PathLike[str],
        key_path: str | os.PathLike[str] | None = None,
        *,
        password: bytes | str | None = None,
        **settings: Any,
    ) -> TlsAcceptorData:
        """Serve the chain in *cert_path* with the key in *key_path* (or in *cert_path*)."""
        from pyrama_tls._pem import load_certified_key

        return cls(certified_key=load_certified_key(cert_path, key_path, password), **settings)

    @classmethod
    def self_signed(cls, names: Iterable[str] = ("localhost",), **settings: Any) -> TlsAcceptorData:
        """Serve a self-signed certificate for *names*, generated now (development, tests)."""
        from pyrama_tls._certs import self_signed_leaf

        return cls(certified_key=self_signed_leaf(names), **settings)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, init=False)
class TlsConnectorData(_Common):
    """How a TLS client handshakes (:class:`~pyrama_tls.TlsConnectorLayer`, ``tls_connect``).

    Certificates are verified by default, against the system trust store (certifi's bundle
    when the system has none), and the server's name must match its certificate.

    * *server_name*: the name to send as SNI and to verify; by default the target's host. SNI
      is never sent for IP literals (the certificate must then list the IP).
    * *insecure*: skip certificate and name verification (logged as a warning). Pins still
      apply, so ``insecure=True`` with *pins* trusts exactly the pinned keys.
    * *ca_certificates*/*ca_file*: trust these instead of the system store (or in addition,
      with *use_system_trust*).
    * *client_certificate*: present this chain for mutual TLS.
    * *pins*: SPKI-SHA256 pins (raw 32 bytes, ``"sha256//<base64>"``, hex, or
      ``CertifiedKey.spki_sha256()``): the leaf's key must match one, else
      :class:`~pyrama_tls.errors.PinMismatchError`.
    * *alpn*: the protocols to offer, in order.
    * *session_resumption*: remember sessions per (host, port), at most *max_sessions*.
    * *min_version*, *max_version*, *cipher_list*, *ciphersuites*, *groups*,
      *signature_algorithms*, *handshake_timeout*, *keylog_file*/*keylog_from_env*: as for
      :class:`TlsAcceptorData`.
    """

    server_name: str | None = None
    insecure: bool = False
    ca_certificates: tuple[x509.Certificate, ...] = ()
    ca_file: str | None = None
    use_system_trust: bool | None = None
    client_certificate: CertifiedKey | None = None
    pins: tuple[bytes, ...] = ()
    session_resumption: bool = True
    max_sessions: int = 256
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __init__(
        self,
        *,
        server_name: str | None = None,
        insecure: bool = False,
        alpn: Iterable[str | bytes] = (),
        ca_certificates: Iterable[x509.Certificate] = (),
        ca_file: str | os.PathLike[str] | None = None,
        use_system_trust: bool | None = None,
        client_certificate: CertifiedKey | None = None,
        pins: Iterable[PinLike] = (),
        min_version: TlsVersion | str | None = TlsVersion.TLS1_2,
        max_version: TlsVersion | str | None = None,
        cipher_list: str | Iterable[str] | None = None,
        ciphersuites: str | Iterable[str] | None = None,
        groups: str | Iterable[str] | None = None,
        signature_algorithms: str | Iterable[str] | None = None,
        session_resumption: bool = True,
        max_sessions: int = 256,
        handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
        keylog_file: str | os.PathLike[str] | None = None,
        keylog_from_env: bool = True,
    ) -> None:
        """Validate and store the settings (see the class docs); :class:`ConfigError` if wrong."""
        if server_name is not None and (not server_name or len(server_name) > 253):
            raise ConfigError(f"server_name must be 1..253 characters, got {server_name!r}")
        cas = tuple(ca_certificates)
        for ca in cas:
            if not isinstance(ca, x509.Certificate):
                raise ConfigError(f"ca_certificates holds x509.Certificate objects, got {ca!r}")
        if client_certificate is not None and not isinstance(client_certificate, CertifiedKey):
            raise ConfigError(
                f"client_certificate must be a CertifiedKey, got {client_certificate!r}"
            )
        if isinstance(pins, str | bytes):
            raise ConfigError("pins must be a list of pins, not a single pin")
        try:
            raw_pins = tuple(normalize_pin(p) for p in pins)
        except ValueError as exc:
            raise ConfigError(f"bad pin: {exc}") from exc
        if max_sessions < 1:
            raise ConfigError("max_sessions must be at least 1")
        common = _common_kwargs(
            alpn=alpn,
            min_version=min_version,
            max_version=max_version,
            cipher_list=cipher_list,
            ciphersuites=ciphersuites,
            groups=groups,
            signature_algorithms=signature_algorithms,
            handshake_timeout=handshake_timeout,
            keylog_file=keylog_file,
            keylog_from_env=keylog_from_env,
        )
        for name, value in common.items():
            object.__setattr__(self, name, value)
        for name, value in (
            ("server_name", server_name),
            ("insecure", bool(insecure)),
            ("ca_certificates", cas),
            ("ca_file", _path_or_none(ca_file)),
            ("use_system_trust", use_system_trust),
            ("client_certificate", client_certificate),
            ("pins", raw_pins),
            ("session_resumption", bool(session_resumption)),
            ("max_sessions", int(max_sessions)),
            ("_cache", {}),
        ):
            object.__setattr__(self, name, value)

    @property
    def trusts_system_store(self) -> bool:
        """Whether the system trust store is loaded (default: only without custom CAs)."""
        if self.use_system_trust is not None:
            return self.use_system_trust
        return not self.ca_certificates and self.ca_file is None
