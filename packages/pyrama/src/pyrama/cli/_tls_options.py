"""TLS flags shared by the ``pyrama`` commands, and what they turn into.

Two sets of flags:

* server side (``serve echo --mode tls``, ``serve stunnel exit``): ``--cert``/``--key`` (or a
  self-signed certificate generated at start for ``--cert-name`` names), ``--alpn``,
  ``--client-ca`` (mutual TLS) and ``--handshake-timeout``; built into a
  :class:`~pyrama_tls.TlsAcceptorData` by :func:`server_tls`;
* client side (``serve stunnel entry``, ``probe tls``): ``--ca``, ``--insecure``,
  ``--server-name``, ``--client-cert``/``--client-key``, ``--pin``, ``--alpn`` and
  ``--handshake-timeout``; built into a :class:`~pyrama_tls.TlsConnectorData` by
  :func:`client_tls`.

Nothing here imports pyrama-tls until a command runs (``pyrama --help`` stays light), and
every problem with the files or values is raised as a
:class:`~pyrama_core.errors.PyramaError` naming the flag.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger

if TYPE_CHECKING:
    from pyrama.net import Stream
    from pyrama_core import Service
    from pyrama_tls import CertifiedKey, TlsAcceptorData, TlsConnectorData

__all__ = [
    "DEFAULT_CERT_NAMES",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "SERVER_TLS_FLAGS",
    "ServerTls",
    "TlsAcceptedLogService",
    "add_client_tls_arguments",
    "add_server_tls_arguments",
    "alpn_list",
    "client_tls",
    "positive_seconds",
    "reject_server_tls_flags",
    "server_tls",
]

_log = get_logger("pyrama.cli")
_std_log = logging.getLogger("pyrama.cli")

DEFAULT_CERT_NAMES: Final[tuple[str, ...]] = ("localhost", "127.0.0.1", "::1")
"""Names a generated self-signed certificate covers unless ``--cert-name`` says otherwise."""

DEFAULT_HANDSHAKE_TIMEOUT: Final[float] = 10.0
"""Seconds a TLS handshake may take unless ``--handshake-timeout`` says otherwise."""

SERVER_TLS_FLAGS: Final[tuple[tuple[str, str], ...]] = (
    ("cert", "--cert"),
    ("key", "--key"),
    ("cert_name", "--cert-name"),
    ("alpn", "--alpn"),
    ("client_ca", "--client-ca"),
    ("handshake_timeout", "--handshake-timeout"),
)
"""(namespace attribute, flag) of every server-side TLS flag."""


def alpn_list(text: str) -> list[str]:
    """``"h2,http/1.1"`` -> ``["h2", "http/1.1"]`` (argparse type of ``--alpn``)."""
    names = [n.strip() for n in text.split(",")]
    if not names or any(not n for n in names):
        raise argparse.ArgumentTypeError(f"not a comma-separated list of protocols: {text!r}")
    for n in names:
        if len(n) > 255 or not n.isascii() or not n.isprintable() or " " in n:
            raise argparse.ArgumentTypeError(
                f"not a protocol name (1 to 255 printable ASCII characters, no spaces): {n!r}"
            )
    return names


def positive_seconds(text: str) -> float:
    """A finite number of seconds > 0 (argparse type of the timeout flags)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _flatten(groups: list[list[str]] | None) -> list[str]:
    return [name for group in groups or [] for name in group]


def add_server_tls_arguments(parser: argparse.ArgumentParser, *, only_mode: str | None) -> None:
    """Add the server-side TLS flags to *parser*.

    *only_mode* names the ``--mode`` they apply to (``"tls"`` for echo), or ``None`` when
    the command always speaks TLS.
    """
    where = f" (--mode {only_mode} only)" if only_mode else ""
    group = parser.add_argument_group(f"TLS{where}")
    group.add_argument(
        "--cert",
        metavar="PEM",
        help="certificate chain to present, leaf first (PEM); without it a self-signed "
        "certificate is generated at start (its SPKI pin is in the listening line)",
    )
    group.add_argument(
        "--key",
        metavar="PEM",
        help="private key of --cert (PEM, unencrypted); default: read from the --cert file",
    )
    group.add_argument(
        "--cert-name",
        metavar="NAME",
        action="append",
        help="a DNS name or IP address for the generated self-signed certificate; repeat "
        f"for more (default: {', '.join(DEFAULT_CERT_NAMES)})",
    )
    group.add_argument(
        "--alpn",
        metavar="PROTOCOLS",
        type=alpn_list,
        action="append",
        help="application protocols to agree on, in our order of preference, comma-separated "
        "(h2,http/1.1); clients offering none of them are still served, without ALPN",
    )
    group.add_argument(
        "--client-ca",
        metavar="PEM",
        help="mutual TLS: require a client certificate issued by a CA in this PEM file",
    )
    group.add_argument(
        "--handshake-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        help="close a connection whose TLS handshake has not finished after this long "
        f"(default: {DEFAULT_HANDSHAKE_TIMEOUT:g})",
    )


def add_client_tls_arguments(parser: argparse.ArgumentParser, *, title: str = "TLS") -> None:
    """Add the client-side TLS flags to *parser*."""
    group = parser.add_argument_group(title)
    group.add_argument(
        "--ca",
        metavar="PEM",
        help="trust the CA certificates in this PEM file instead of the system trust store",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the server's certificate or name (pins still apply)",
    )
    group.add_argument(
        "--server-name",
        metavar="NAME",
        help="the name to send as SNI and to verify the certificate against "
        "(default: the target's host; no SNI is sent for an IP address)",
    )
    group.add_argument(
        "--client-cert",
        metavar="PEM",
        help="mutual TLS: present this certificate chain (PEM, leaf first)",
    )
    group.add_argument(
        "--client-key",
        metavar="PEM",
        help="private key of --client-cert (PEM, unencrypted); default: read from that file",
    )
    group.add_argument(
        "--pin",
        metavar="PIN",
        action="append",
        help="accept the server only if its leaf's SPKI SHA-256 is this pin (sha256//BASE64 "
        "as curl --pinnedpubkey takes, or 64 hex digits); repeat to allow several",
    )
    group.add_argument(
        "--alpn",
        metavar="PROTOCOLS",
        type=alpn_list,
        action="append",
        help="application protocols to offer, comma-separated, in order (h2,http/1.1)",
    )
    group.add_argument(
        "--handshake-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=DEFAULT_HANDSHAKE_TIMEOUT,
        help=f"give up on a TLS handshake after this long (default: {DEFAULT_HANDSHAKE_TIMEOUT:g})",
    )


def reject_server_tls_flags(args: argparse.Namespace, mode: str) -> None:
    """Raise :class:`ConfigError` if a server TLS flag was given to the non-TLS *mode*."""
    given = [flag for attr, flag in SERVER_TLS_FLAGS if getattr(args, attr, None) not in (None, [])]
    if given:
        raise ConfigError(f"{', '.join(given)}: only with --mode tls, not --mode {mode}")


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The acceptor configuration built from the server flags, and what to log about it."""

    data: TlsAcceptorData
    certified_key: CertifiedKey
    details: Mapping[str, object]


def server_tls(args: argparse.Namespace, *, peek_client_hello: bool = True) -> ServerTls:
    """Build the TLS server configuration from the flags added by :func:`add_server_tls_arguments`.

    *peek_client_hello*: parse the ClientHello before the handshake (for services that read
    it: fingerprints); a pure terminator saves that work with ``False``.

    Raises :class:`~pyrama_core.errors.ConfigError` for inconsistent flags and a
    :class:`~pyrama_tls.errors.CertificateError` for unreadable or mismatched PEM files.
    """
    from pyrama_tls import ClientAuth, TlsAcceptorData, load_certified_key, self_signed_leaf

    details: dict[str, object] = {}
    if args.cert is None:
        if args.key is not None:
            raise ConfigError("--key needs --cert")
        names = args.cert_name or list(DEFAULT_CERT_NAMES)
        key = self_signed_leaf(names)
        details["certificate"] = "self-signed for " + ", ".join(names)
    else:
        if args.cert_name:
            raise ConfigError("--cert-name is for the generated certificate, not with --cert")
        key = load_certified_key(args.cert, args.key)
        details["certificate"] = args.cert
    details["spki_sha256"] = str(key.spki_sha256())
    alpn = _flatten(args.alpn)
    if alpn:
        details["alpn"] = ",".join(alpn)
    settings: dict[str, Any] = {}
    if args.client_ca is not None:
        settings["client_auth"] = ClientAuth.REQUIRED
        settings["client_ca_file"] = args.client_ca
        details["client_ca"] = args.client_ca
    timeout = args.handshake_timeout or DEFAULT_HANDSHAKE_TIMEOUT
    details["handshake_timeout"] = timeout
    data = TlsAcceptorData(
        certified_key=key,
        alpn=alpn,
        handshake_timeout=timeout,
        peek_client_hello=peek_client_hello,
        **settings,
    )
    return ServerTls(data=data, certified_key=key, details=details)


def client_tls(args: argparse.Namespace) -> TlsConnectorData:
    """Build the TLS client configuration from the flags added by :func:`add_client_tls_arguments`.

    Raises :class:`~pyrama_core.errors.ConfigError` for inconsistent flags or a bad pin and
    a :class:`~pyrama_tls.errors.CertificateError` for unreadable or mismatched PEM files.
    """
    from pyrama_tls import TlsConnectorData, load_certified_key

    client_cert = None
    if args.client_cert is not None:
        client_cert = load_certified_key(args.client_cert, args.client_key)
    elif args.client_key is not None:
        raise ConfigError("--client-key needs --client-cert")
    return TlsConnectorData(
        server_name=args.server_name,
        insecure=args.insecure,
        alpn=_flatten(args.alpn),
        ca_file=args.ca,
        client_certificate=client_cert,
        pins=args.pin or (),
        handshake_timeout=args.handshake_timeout,
        # a tunnel or a probe should show (and pay for) a full handshake every time
        session_resumption=False,
    )


class TlsAcceptedLogService:
    """``Service[Stream, T]``: with ``-v``, log what each TLS handshake agreed on, then serve.

    Sits right behind the :class:`~pyrama_tls.TlsAcceptorLayer`, so the stream it gets
    carries :class:`~pyrama_tls.NegotiatedTls`; logs one ``tls accepted`` debug line (peer,
    SNI, ALPN, version, cipher, client certificate subject) and passes the stream on.
    """

    __slots__ = ("inner", "service")

    def __init__(self, inner: Service[Stream, Any], service: str) -> None:
        self.inner = inner
        self.service = service

    async def serve(self, stream: Stream, /) -> Any:
        """Log the handshake's outcome (debug only) and serve *stream* with the inner service."""
        if _std_log.isEnabledFor(logging.DEBUG):
            from pyrama.cli._streams import peer_of
            from pyrama_tls import NegotiatedTls

            negotiated = stream.extensions.get(NegotiatedTls)
            if negotiated is not None:
                client = negotiated.peer_certificate
                _log.debug(
                    "tls accepted",
                    service=self.service,
                    peer=peer_of(stream),
                    sni=negotiated.server_name,
                    alpn=negotiated.alpn,
                    version=negotiated.version,
                    cipher=negotiated.cipher,
                    client_cert=None if client is None else client.subject.rfc4514_string(),
                )
        return await self.inner.serve(stream)
