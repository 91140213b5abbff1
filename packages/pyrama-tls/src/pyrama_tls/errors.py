"""Errors raised by pyrama-tls."""

from __future__ import annotations

from pyrama_core.errors import LimitError, ProtocolError, PyramaError, PyramaTimeoutError, Side
from pyrama_net.errors import StreamError

__all__ = [
    "CertificateError",
    "CertificateFileError",
    "CertificateNameError",
    "CertificateVerifyError",
    "ClientHelloError",
    "ClientHelloTooLargeError",
    "KeyMismatchError",
    "KeyPasswordError",
    "NoSniRouteError",
    "NotTlsError",
    "PemError",
    "PinMismatchError",
    "TlsError",
    "TlsHandshakeError",
    "TlsHandshakeTimeoutError",
    "TlsStreamError",
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


class TlsHandshakeError(TlsError):
    """A TLS handshake failed.

    :attr:`role` is ``"client"`` or ``"server"`` (which end we were); :attr:`side` says which
    side ended it: :attr:`~pyrama_core.errors.Side.REMOTE` when the peer sent an alert, closed
    the connection or sent bytes that are not valid TLS, :attr:`~pyrama_core.errors.Side.LOCAL`
    when our own policy refused the peer (certificate verification, pinning, no common version,
    cipher or application protocol). :attr:`reason` is OpenSSL's reason string (``"certificate
    verify failed"``, ``"wrong version number"``, ...) or ``None``; the OpenSSL error, when there
    was one, is the ``__cause__``.
    """

    def __init__(
        self, message: str, *, role: str, side: Side = Side.REMOTE, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.role = role
        self.side = side
        self.reason = reason


class TlsHandshakeTimeoutError(TlsHandshakeError, PyramaTimeoutError):
    """The TLS handshake did not finish within its deadline (also a builtin ``TimeoutError``).

    :attr:`seconds` is the deadline.
    """

    def __init__(self, message: str, *, role: str, seconds: float | None) -> None:
        TlsHandshakeError.__init__(self, message, role=role, side=Side.REMOTE, reason="timeout")
        self.seconds = seconds


class CertificateVerifyError(TlsHandshakeError):
    """The peer's certificate was refused: untrusted, expired, wrong host name, ...

    :attr:`verify_code` is OpenSSL's ``X509_V_ERR_*`` code (``18`` self-signed, ``62``
    hostname mismatch, ...) and :attr:`depth` the position in the chain (``0`` = leaf) of the
    first refused certificate, each ``None`` when the refusal came from a check after the
    handshake.
    """

    def __init__(
        self,
        message: str,
        *,
        role: str,
        reason: str | None = "certificate verify failed",
        verify_code: int | None = None,
        depth: int | None = None,
    ) -> None:
        super().__init__(message, role=role, side=Side.LOCAL, reason=reason)
        self.verify_code = verify_code
        self.depth = depth


class PinMismatchError(CertificateVerifyError):
    """None of the configured SPKI-SHA256 pins matches the server's leaf certificate.

    :attr:`actual` is the leaf's SPKI-SHA256 digest (32 bytes); :attr:`pins` the accepted ones.
    """

    def __init__(self, message: str, *, role: str, actual: bytes, pins: tuple[bytes, ...]) -> None:
        super().__init__(message, role=role, reason="public key pin mismatch")
        self.actual = actual
        self.pins = pins


class TlsStreamError(TlsError, StreamError):
    """An established TLS stream failed: a fatal alert, a bad record, use before the handshake.

    It is also a :class:`~pyrama_net.errors.StreamError`, as the Stream contract promises.
    :attr:`reason` is OpenSSL's reason string, or ``None``.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
