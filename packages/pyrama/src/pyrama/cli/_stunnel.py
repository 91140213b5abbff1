"""``pyrama serve stunnel exit|entry``: the two ends of a TLS tunnel, like stunnel.

* ``exit`` accepts TLS (terminates it) and forwards the plaintext to ``--forward HOST:PORT``:
  put it in front of a plain service to give it TLS, or at the far end of a tunnel;
* ``entry`` accepts plaintext and forwards it over TLS to ``--connect HOST:PORT``,
  verifying the server's certificate: give a plain client a TLS connection.

``entry`` -> ``exit`` is a tunnel: plain on both outer sides, TLS (optionally mutual) in
between. Both ends relay with :func:`~pyrama_net.bridge` (half-close passed through, TLS
``close_notify`` mapped to TCP FIN and back).
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started, _add_command
from pyrama_core import ShutdownGuard
from pyrama_core.errors import PyramaError
from pyrama_core.telemetry import get_logger

if TYPE_CHECKING:
    from pyrama.net import Authority, EstablishedConnection, Stream
    from pyrama_core import Service

__all__ = ["ENTRY", "EXIT", "keep_freed_memory", "register"]

_log = get_logger("pyrama.cli")
_std_log = logging.getLogger("pyrama.cli")

DEFAULT_CONNECT_TIMEOUT = 10.0

# glibc mallopt() parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# a TLS relay allocates and frees buffers of up to a few hundred KiB per read; glibc's default
# policy gives the top of the heap back to the kernel after such frees (and maps buffers above
# its threshold afresh), so every read pays page faults and zeroed pages: measured, that was
# more than half of the CPU a bulk transfer cost. Up to this much freed memory stays mapped.
_MMAP_THRESHOLD = 1 << 20
_TRIM_THRESHOLD = 16 << 20
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory(environ: Mapping[str, str] | None = None) -> bool:
    """Make glibc keep freed heap memory for reuse instead of unmapping it after each free.

    Buffers up to 1 MiB come from the heap (not a fresh mapping each) and up to 16 MiB of
    free memory at the top of the heap stays mapped. Skipped (``False``) off glibc, and when
    the environment tunes malloc itself (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``,
    ``GLIBC_TUNABLES``). Process-wide, so only the command's process does it, never a library.
    """
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or any(name in env for name in _MALLOC_ENV):
        return False
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: not glibc's knobs
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - no C library to ask
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    mmap_ok: bool = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    trim_ok: bool = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1
    return mmap_ok and trim_ok


class _Tunnel:
    """``Service[Stream, None]``: open a connection with *connector*, relay both ways.

    The connector returns plain TCP (exit end) or TLS over TCP (entry end). A target that
    cannot be reached, or whose TLS handshake fails, is logged (one line, with the reason)
    and the client's connection is closed cleanly. A relay that ends because one side reset
    or abandoned its connection is not a failure of the tunnel: it is logged at debug level
    only (other relay errors are raised, for the connection's owner to log).
    """

    __slots__ = ("_bridge", "_connector", "_peer_of", "command", "target")

    def __init__(
        self,
        connector: Service[Authority, EstablishedConnection[Any, Any]],
        target: Authority,
        command: str,
    ) -> None:
        from pyrama.cli._streams import peer_of
        from pyrama.net import bridge

        self._connector = connector
        self.target = target
        self.command = command
        # looked up once here, not per connection (the command imports them lazily)
        self._bridge = bridge
        self._peer_of = peer_of

    async def serve(self, stream: Stream, /) -> None:
        """Relay *stream* to the target until both directions end."""
        try:
            upstream = (await self._connector.serve(self.target)).conn
        except (OSError, PyramaError) as exc:
            await self._unreachable(stream, exc)
            return
        try:
            stats = await self._bridge(stream, upstream)  # owns and closes both streams
        except PyramaError as exc:
            cause = exc.__cause__
            # reset, broken pipe, aborted: a peer hung up (a refused connect cannot happen here)
            if not isinstance(cause, ConnectionError):
                raise
            if _std_log.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "tunnel reset",
                    service=self.command,
                    peer=self._peer_of(stream),
                    target=str(self.target),
                    side="client" if getattr(exc, "side", None) == "a" else "target",
                    error=str(cause),
                )
            return
        if _std_log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "tunnelled",
                service=self.command,
                peer=self._peer_of(stream),
                target=str(self.target),
                up=stats.a_to_b,
                down=stats.b_to_a,
            )

    async def _unreachable(self, stream: Stream, exc: BaseException) -> None:
        from pyrama.cli._streams import refuse
        from pyrama_tls.errors import TlsHandshakeError

        event = (
            "tls handshake with target failed"
            if isinstance(exc, TlsHandshakeError)
            else "target unreachable"
        )
        _log.warning(
            event,
            service=self.command,
            peer=self._peer_of(stream),
            target=str(self.target),
            error=str(exc),
        )
        await refuse(stream)


class _HandshakeFailureLogged:
    """``Service[Stream, None]`` around a TLS acceptor service: a failed handshake is done.

    The acceptor logs each failed handshake (``tls handshake failed``, with the peer, SNI,
    side and reason) and closes the connection; letting its error through as well would log
    it a second time (``connection failed``), so it ends here.
    """

    __slots__ = ("_handshake_error", "inner")

    def __init__(self, inner: Service[Stream, Any]) -> None:
        from pyrama_tls.errors import TlsHandshakeError

        self.inner = inner
        self._handshake_error = TlsHandshakeError

    async def serve(self, stream: Stream, /) -> None:
        """Serve *stream*; a TLS handshake failure (logged by the acceptor) ends it quietly."""
        try:
            await self.inner.serve(stream)
        except self._handshake_error:
            return


async def _exit(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._tcp import start_tcp
    from pyrama.cli._tls_options import TlsAcceptedLogService, server_tls
    from pyrama_tcp import TcpConnector
    from pyrama_tls import TlsAcceptorLayer

    # nothing here reads the ClientHello (the SNI comes from OpenSSL): no Python parse of it
    tls = server_tls(s.args, peek_client_hello=False)
    keep_freed_memory()
    target: Authority = s.args.forward
    tunnel = _Tunnel(TcpConnector(connect_timeout=s.args.connect_timeout), target, s.command)
    service = _HandshakeFailureLogged(
        TlsAcceptorLayer(tls.data).layer(TlsAcceptedLogService(tunnel, s.command))
    )
    started = await start_tcp(s, guard, service)
    details = {"forward": str(target), **tls.details}
    return Started(started.address, started.task, started.in_flight, details)


async def _entry(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._tcp import start_tcp
    from pyrama.cli._tls_options import client_tls
    from pyrama_tcp import TcpConnector
    from pyrama_tls import TlsConnectorLayer

    data = client_tls(s.args)
    keep_freed_memory()
    target: Authority = s.args.connect
    connector = TlsConnectorLayer(data).layer(TcpConnector(connect_timeout=s.args.connect_timeout))
    started = await start_tcp(s, guard, _Tunnel(connector, target, s.command))
    details: dict[str, object] = {
        "connect": str(target),
        "server_name": data.server_name or str(target.host),
        "verify": "off (--insecure)" if data.insecure else (data.ca_file or "system trust store"),
    }
    if data.pins:
        details["pins"] = len(data.pins)
    if data.alpn:
        details["alpn"] = ",".join(p.decode("latin-1") for p in data.alpn)
    if data.client_certificate is not None:
        details["client_cert"] = data.client_certificate.leaf.subject.rfc4514_string()
    return Started(started.address, started.task, started.in_flight, details)


def _target(flag: str) -> Any:
    def parse(text: str) -> Authority:
        from pyrama.net import Authority

        try:
            return Authority.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid {flag}: {exc}") from None

    return parse


def _connect_timeout(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._tls_options import positive_seconds

    parser.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=DEFAULT_CONNECT_TIMEOUT,
        help="give up connecting to the target after this long, DNS included "
        f"(default: {DEFAULT_CONNECT_TIMEOUT:g})",
    )


def _exit_arguments(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._tls_options import add_server_tls_arguments

    parser.add_argument(
        "--forward",
        metavar="HOST:PORT",
        type=_target("--forward"),
        required=True,
        help="where to send the decrypted bytes, over plain TCP (127.0.0.1:8080)",
    )
    _connect_timeout(parser)
    add_server_tls_arguments(parser, only_mode=None)


def _entry_arguments(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._tls_options import add_client_tls_arguments

    parser.add_argument(
        "--connect",
        metavar="HOST:PORT",
        type=_target("--connect"),
        required=True,
        help="the TLS server to tunnel to (example.com:443, 127.0.0.1:8443)",
    )
    _connect_timeout(parser)
    add_client_tls_arguments(parser, title="TLS to the --connect target")


EXIT = ServeCommand(
    name="stunnel exit",
    help="accept TLS, forward the plaintext to --forward",
    description=(
        "The exit end of a TLS tunnel (TLS termination): accepts TLS connections and relays\n"
        "the decrypted bytes, both ways, to --forward over plain TCP. Without --cert a\n"
        "self-signed certificate is generated at start; with --client-ca only clients with a\n"
        "certificate from that CA are accepted (mutual TLS). A failed handshake (plain text\n"
        "or garbage sent to the port, a client that stalls, a refused client certificate)\n"
        "closes that connection and is logged; others are not affected."
    ),
    modes={"tls": Mode(_exit, ("net", "tcp", "tls"), "TLS in, TCP out")},
    default_mode="tls",
    default_timeout=0.0,
    default_port=8443,
    add_arguments=_exit_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve stunnel exit --bind :8443 --forward 127.0.0.1:8080\n"
        "  pyrama serve stunnel exit --forward 127.0.0.1:5432 --cert chain.pem --key key.pem "
        "--client-ca clients-ca.pem\n"
    ),
)
"""``pyrama serve stunnel exit``."""

ENTRY = ServeCommand(
    name="stunnel entry",
    help="accept plain TCP, forward it over TLS to --connect",
    description=(
        "The entry end of a TLS tunnel: accepts plain TCP connections and relays them, both\n"
        "ways, over TLS to --connect. The server's certificate is verified against the\n"
        "system trust store (or --ca) and the name --server-name (default: the host of\n"
        "--connect); --client-cert presents a certificate for mutual TLS. A target that\n"
        "cannot be reached or fails verification closes the client's connection and is\n"
        "logged."
    ),
    modes={"tls": Mode(_entry, ("net", "tcp", "tls"), "TCP in, TLS out")},
    default_mode="tls",
    default_timeout=0.0,
    default_port=8080,
    add_arguments=_entry_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve stunnel entry --bind :8080 --connect example.com:443\n"
        "  pyrama serve stunnel entry --connect 127.0.0.1:8443 --ca ca.pem "
        "--server-name localhost --client-cert client.pem --client-key client-key.pem\n"
    ),
)
"""``pyrama serve stunnel entry``."""


def register(serve_commands: Any) -> None:
    """Add ``stunnel`` with its ``exit`` and ``entry`` ends to the ``serve`` sub-parsers."""
    parser: argparse.ArgumentParser = serve_commands.add_parser(
        "stunnel",
        help="TLS tunnel ends: exit (TLS in, TCP out) and entry (TCP in, TLS out)",
        description=(
            "The two ends of a TLS tunnel, like stunnel. Pick an end; each has its own --help.\n"
            "\n"
            "  client --TCP--> stunnel entry ==TLS==> stunnel exit --TCP--> service"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=None, parser=parser)
    ends = parser.add_subparsers(title="ends", metavar="END")
    _add_command(ends, EXIT, "exit")
    _add_command(ends, ENTRY, "entry")
