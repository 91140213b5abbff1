"""Where the trusted root certificates are: the system store, or certifi's bundle.

pyOpenSSL's ``Context.set_default_verify_paths()`` uses the paths compiled into the OpenSSL
that ``cryptography``'s wheels bundle, which often do not exist on the machine (notably on
macOS and on Linux distributions that keep their store elsewhere). These helpers find the
store the way a user expects: ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` first, then the paths of the
Python interpreter's OpenSSL, then the usual distribution locations, and certifi's Mozilla
bundle when none of those holds a certificate.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pyrama_tls.errors import CertificateError

if TYPE_CHECKING:
    from OpenSSL import SSL

__all__ = ["VerifyPaths", "ca_bundle_path", "default_verify_paths"]

# Where distributions keep their concatenated trust bundle, most common first.
_WELL_KNOWN_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora, RHEL (extracted)
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # Alpine, macOS, BSDs
    "/usr/local/etc/openssl/cert.pem",  # Homebrew
)
_SNIFF_BYTES = 256 * 1024
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True, slots=True)
class VerifyPaths:
    """The trust store to verify peers with: a bundle file and/or a hashed directory."""

    cafile: str | None
    """A PEM file of concatenated trusted certificates, or ``None``."""

    capath: str | None
    """A directory of certificates named by subject hash (``c_rehash``), or ``None``."""

    source: Literal["env", "system", "certifi"]
    """Where they came from: ``SSL_CERT_FILE``/``SSL_CERT_DIR``, the system, or certifi."""

    def load_into(self, context: SSL.Context) -> None:
        """Make a pyOpenSSL ``Context`` trust these certificates."""
        from OpenSSL import SSL

        try:
            context.load_verify_locations(self.cafile, self.capath)
        except SSL.Error as exc:
            raise CertificateError(
                f"cannot load trusted certificates from {self.cafile or self.capath}: {exc}"
            ) from exc

    def ssl_context(self) -> ssl.SSLContext:
        """A standard-library client ``SSLContext`` that trusts these certificates."""
        return ssl.create_default_context(cafile=self.cafile, capath=self.capath)


def _file_has_certs(path: str | None) -> bool:
    if not path:
        return False
    try:
        with open(path, "rb") as f:
            return _PEM_CERT in f.read(_SNIFF_BYTES)
    except OSError:
        return False


def _dir_has_certs(path: str | None) -> bool:
    if not path:
        return False
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                name = entry.name
                # c_rehash names: 8 hex digits, a dot, a counter (e.g. 3513523f.0).
                stem, dot, counter = name.partition(".")
                if dot and len(stem) == 8 and counter.isdigit() and _file_has_certs(entry.path):
                    return True
    except OSError:
        return False
    return False


def _certifi() -> VerifyPaths:
    import certifi

    return VerifyPaths(cafile=certifi.where(), capath=None, source="certifi")


def default_verify_paths() -> VerifyPaths:
    """The trust store to use for verifying servers.

    In order: ``SSL_CERT_FILE`` and/or ``SSL_CERT_DIR`` when set and holding certificates
    (``source="env"``); the default file and directory of the interpreter's OpenSSL, then
    the usual distribution bundle locations (``source="system"``); else certifi's bundle
    (``source="certifi"``). The result is computed on each call (a few ``stat`` calls and one
    partial read), so changes to the environment are seen.
    """
    env_file = os.environ.get("SSL_CERT_FILE")
    env_dir = os.environ.get("SSL_CERT_DIR")
    if env_file or env_dir:
        cafile = env_file if _file_has_certs(env_file) else None
        capath = env_dir if _dir_has_certs(env_dir) else None
        if cafile or capath:
            return VerifyPaths(cafile=cafile, capath=capath, source="env")
    defaults = ssl.get_default_verify_paths()
    candidates = [defaults.cafile, defaults.openssl_cafile, *_WELL_KNOWN_FILES]
    cafile = next((c for c in candidates if _file_has_certs(c)), None)
    capath_candidates = [defaults.capath, defaults.openssl_capath, "/etc/ssl/certs"]
    capath = next((c for c in capath_candidates if _dir_has_certs(c)), None)
    if cafile or capath:
        return VerifyPaths(cafile=cafile, capath=capath, source="system")
    return _certifi()


def ca_bundle_path() -> str:
    """One PEM file of trusted roots: the system bundle when there is one, else certifi's.

    For APIs that take a single file (``curl --cacert``, ``httpx verify=``). A system store
    that is only a hashed directory is not a file, so certifi's bundle is returned then.
    """
    paths = default_verify_paths()
    if paths.cafile is not None:
        return paths.cafile
    import certifi

    return certifi.where()
