"""NegotiatedTls: what a finished TLS handshake agreed on, as a stream extension."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography import x509

from pyrama_tls._client_hello import ClientHello

__all__ = ["NegotiatedTls", "TlsRole"]

TlsRole = Literal["client", "server"]
"""Which end of the TLS connection we are."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiatedTls:
    """The outcome of a TLS handshake, inserted into a :class:`~pyrama_tls.TlsStream`'s extensions.

    Look it up with ``stream.extensions.get(NegotiatedTls)``. Services behind a
    :class:`~pyrama_tls.TlsAcceptorLayer` use it to pick a protocol by :attr:`alpn` or a
    virtual host by :attr:`server_name`; clients read the server's certificates from it.
    """

    role: TlsRole
    """``"client"`` when we connected, ``"server"`` when we accepted."""
    version: str
    """The protocol version as OpenSSL names it: ``"TLSv1.3"`` or ``"TLSv1.2"``."""
    cipher: str | None
    """The cipher suite, OpenSSL's name (``"TLS_AES_256_GCM_SHA384"``, ``"ECDHE-RSA-..."``)."""
    alpn: str | None
    """The application protocol both sides agreed on (``"h2"``), ``None`` without ALPN."""
    server_name: str | None
    """The SNI: what the client asked for (server side) or sent (client side); ``None`` if none."""
    peer_certificates: tuple[x509.Certificate, ...] = ()
    """The certificates the peer presented, leaf first (empty when it presented none)."""
    session_reused: bool = False
    """Whether the handshake resumed an earlier session (abbreviated handshake)."""
    group: str | None = None
    """The key-exchange group (``"X25519"``, ``"X25519MLKEM768"``), when OpenSSL reports one."""
    client_hello: ClientHello | None = None
    """The parsed ClientHello (server side, when the acceptor peeked it), else ``None``."""

    @property
    def peer_certificate(self) -> x509.Certificate | None:
        """The peer's leaf certificate, or ``None``."""
        return self.peer_certificates[0] if self.peer_certificates else None

    @property
    def is_tls13(self) -> bool:
        """Whether TLS 1.3 was negotiated."""
        return self.version == "TLSv1.3"
