"""NegotiatedTls: what a finished TLS handshake agreed on, as a stream extension."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from typing import Any, Literal

from cryptography import x509

from pyrama_tls._client_hello import ClientHello

__all__ = ["NegotiatedTls", "TlsRole"]

TlsRole = Literal["client", "server"]
"""Which end of the TLS connection we are."""

_Chain = tuple[x509.Certificate, ...]
_UNSET: Any = object()


class NegotiatedTls:
    """The outcome of a TLS handshake, inserted into a :class:`~pyrama_tls.TlsStream`'s extensions.

    Look it up with ``stream.extensions.get(NegotiatedTls)``. Services behind a
    :class:`~pyrama_tls.TlsAcceptorLayer` use it to pick a protocol by :attr:`alpn` or a
    virtual host by :attr:`server_name`; clients read the server's certificates from it.

    Immutable, compared and hashed by value. Built by a handshake, the peer's certificates
    are converted to :class:`cryptography.x509.Certificate` objects only when first asked for
    (:attr:`peer_certificate` converts the leaf alone), not for every connection.
    """

    __slots__ = (
        "_alpn",
        "_chain",
        "_chain_loader",
        "_cipher",
        "_client_hello",
        "_group",
        "_leaf",
        "_leaf_loader",
        "_role",
        "_server_name",
        "_session_reused",
        "_version",
    )

    _role: TlsRole
    _version: str
    _cipher: str | None
    _alpn: str | None
    _server_name: str | None
    _session_reused: bool
    _group: str | None
    _client_hello: ClientHello | None
    _chain: Any  # the tuple, or _UNSET until loaded
    _leaf: Any  # the certificate (or None), or _UNSET until loaded
    _chain_loader: Callable[[x509.Certificate | None], _Chain] | None
    _leaf_loader: Callable[[], x509.Certificate | None] | None

    def __init__(
        self,
        *,
        role: TlsRole,
        version: str,
        cipher: str | None,
        alpn: str | None,
        server_name: str | None,
        peer_certificates: _Chain = (),
        session_reused: bool = False,
        group: str | None = None,
        client_hello: ClientHello | None = None,
    ) -> None:
        """Record the facts (all keyword arguments; see the attributes)."""
        chain = tuple(peer_certificates)
        self._init(role, version, cipher, alpn, server_name, session_reused, group, client_hello)
        _set(self, "_chain", chain)
        _set(self, "_leaf", chain[0] if chain else None)
        _set(self, "_chain_loader", None)
        _set(self, "_leaf_loader", None)

    @classmethod
    def _from_handshake(
        cls,
        *,
        role: TlsRole,
        version: str,
        cipher: str | None,
        alpn: str | None,
        server_name: str | None,
        session_reused: bool,
        group: str | None,
        client_hello: ClientHello | None,
        leaf: Callable[[], x509.Certificate | None],
        chain: Callable[[x509.Certificate | None], _Chain],
    ) -> NegotiatedTls:
        """Internal: certificates come from *leaf* and *chain* (given the leaf) when asked."""
        self = cls.__new__(cls)
        self._init(role, version, cipher, alpn, server_name, session_reused, group, client_hello)
        _set(self, "_chain", _UNSET)
        _set(self, "_leaf", _UNSET)
        _set(self, "_chain_loader", chain)
        _set(self, "_leaf_loader", leaf)
        return self

    def _init(
        self,
        role: TlsRole,
        version: str,
        cipher: str | None,
        alpn: str | None,
        server_name: str | None,
        session_reused: bool,
        group: str | None,
        client_hello: ClientHello | None,
    ) -> None:
        _set(self, "_role", role)
        _set(self, "_version", version)
        _set(self, "_cipher", cipher)
        _set(self, "_alpn", alpn)
        _set(self, "_server_name", server_name)
        _set(self, "_session_reused", session_reused)
        _set(self, "_group", group)
        _set(self, "_client_hello", client_hello)

    # -- the facts ------------------------------------------------------------------------------

    @property
    def role(self) -> TlsRole:
        """``"client"`` when we connected, ``"server"`` when we accepted."""
        return self._role

    @property
    def version(self) -> str:
        """The protocol version as OpenSSL names it: ``"TLSv1.3"`` or ``"TLSv1.2"``."""
        return self._version

    @property
    def cipher(self) -> str | None:
        """The cipher suite, OpenSSL's name (``"TLS_AES_256_GCM_SHA384"``, ``"ECDHE-RSA-..."``)."""
        return self._cipher

    @property
    def alpn(self) -> str | None:
        """The application protocol both sides agreed on (``"h2"``), ``None`` without ALPN."""
        return self._alpn

    @property
    def server_name(self) -> str | None:
        """The SNI: what the client asked for (server side) or sent (client side); else ``None``."""
        return self._server_name

    @property
    def peer_certificates(self) -> _Chain:
        """The certificates the peer presented, leaf first (empty when it presented none)."""
        chain: _Chain
        if self._chain is _UNSET:
            loader = self._chain_loader
            assert loader is not None
            chain = loader(self.peer_certificate)
            _set(self, "_chain", chain)
            _set(self, "_chain_loader", None)
        else:
            chain = self._chain
        return chain

    @property
    def peer_certificate(self) -> x509.Certificate | None:
        """The peer's leaf certificate, or ``None``."""
        leaf: x509.Certificate | None
        if self._leaf is _UNSET:
            loader = self._leaf_loader
            assert loader is not None
            leaf = loader()
            _set(self, "_leaf", leaf)
            _set(self, "_leaf_loader", None)
        else:
            leaf = self._leaf
        return leaf

    @property
    def session_reused(self) -> bool:
        """Whether the handshake resumed an earlier session (abbreviated handshake)."""
        return self._session_reused

    @property
    def group(self) -> str | None:
        """The key-exchange group (``"X25519"``, ``"X25519MLKEM768"``), when OpenSSL reports one."""
        return self._group

    @property
    def client_hello(self) -> ClientHello | None:
        """The parsed ClientHello (server side, when the acceptor peeked it), else ``None``."""
        return self._client_hello

    @property
    def is_tls13(self) -> bool:
        """Whether TLS 1.3 was negotiated."""
        return self._version == "TLSv1.3"

    # -- value semantics ------------------------------------------------------------------------

    def _key(self) -> tuple[Any, ...]:
        return (
            self._role,
            self._version,
            self._cipher,
            self._alpn,
            self._server_name,
            self.peer_certificates,
            self._session_reused,
            self._group,
            self._client_hello,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, NegotiatedTls)
        return self is other or self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        return (
            f"NegotiatedTls(role={self._role!r}, version={self._version!r}, "
            f"cipher={self._cipher!r}, alpn={self._alpn!r}, server_name={self._server_name!r}, "
            f"peer_certificates=<{len(self.peer_certificates)}>, "
            f"session_reused={self._session_reused!r}, group={self._group!r}, "
            f"client_hello={self._client_hello!r})"
        )


_set = object.__setattr__
