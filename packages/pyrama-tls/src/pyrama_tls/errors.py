"""Errors raised by pyrama-tls."""

from __future__ import annotations

from pyrama_core.errors import PyramaError

__all__ = [
    "CertificateError",
    "CertificateFileError",
    "CertificateNameError",
    "KeyMismatchError",
    "KeyPasswordError",
    "PemError",
    "TlsError",
    "UnsupportedKeyError",
]


class TlsError(PyramaError):
    """Root of pyrama-tls errors."""


class CertificateError(TlsError):
    """A certificate or private key could not be created, loaded, saved or used."""


class CertificateFileError(CertificateError):
    """Reading or writing a certificate or key file failed; the OS error is the ``__cause__``.

    :attr:`path` names the file.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class PemError(CertificateError, ValueError):
    """Data is not valid PEM, or holds no certificate / private key where one was expected."""


class KeyPasswordError(CertificateError):
    """A private key needs a password that was not given, or the password is wrong."""


class KeyMismatchError(CertificateError):
    """A private key does not belong to the certificate it was paired with."""


class UnsupportedKeyError(CertificateError):
    """A key type (or key kind name) that pyrama-tls does not issue or load certificates for."""


class CertificateNameError(CertificateError, ValueError):
    """A name is not acceptable in a certificate (not a valid domain or IP address).

    Raised, for instance, when a ClientHello carries a garbage SNI: the issuer refuses to sign
    it instead of minting a certificate for it.
    """
