"""Errors raised by pyrama-tls."""

from __future__ import annotations

from pyrama_core.errors import LimitError, ProtocolError, PyramaError, Side

__all__ = [
    "CertificateError",
    "CertificateFileError",
    "CertificateNameError",
    "ClientHelloError",
    "ClientHelloTooLargeError",
    "KeyMismatchError",
    "KeyPasswordError",
    "NoSniRouteError",
    "NotTlsError",
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


class ClientHelloError(TlsError, ProtocolError):
    """A TLS ClientHello is malformed (bad length, duplicate extension, truncated, ...).

    :attr:`offset` is the byte offset of the problem within the parsed input (the TLS record
    bytes, counted from the first record header), or ``None`` when not known. :attr:`side` is
    :attr:`~pyrama_core.errors.Side.REMOTE` for bytes a peer sent and
    :attr:`~pyrama_core.errors.Side.LOCAL` for a model built locally; :attr:`hint` is the TLS
    alert a server would send (``50`` decode_error, ``47`` illegal_parameter), or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        side: Side = Side.REMOTE,
        hint: int | None = 50,
    ) -> None:
        ProtocolError.__init__(self, message, side=side, hint=hint)
        self.offset = offset


class NotTlsError(ClientHelloError):
    """The bytes are not a TLS handshake at all (for example plain HTTP sent to a TLS port).

    Raised as early as the first byte tells: a TLS connection starts with a handshake record
    (``0x16 0x03``).
    """

    def __init__(self, message: str, *, offset: int | None = 0) -> None:
        super().__init__(message, offset=offset, hint=None)


class ClientHelloTooLargeError(ClientHelloError, LimitError):
    """A ClientHello (or the records carrying it) exceeds the configured size limit.

    :attr:`limit` is the limit that was exceeded.
    """

    def __init__(self, message: str, *, limit: int, offset: int | None = None) -> None:
        ClientHelloError.__init__(self, message, offset=offset, hint=47)
        self.limit = limit


class NoSniRouteError(TlsError):
    """:class:`~pyrama_tls.SniRouter` found no service for a connection.

    :attr:`server_name` is the SNI the client sent (``None`` when it sent none).
    """

    def __init__(self, message: str, *, server_name: str | None) -> None:
        super().__init__(message)
        self.server_name = server_name
