"""The HTTP side of ``pyrama serve``: flags, limits and the listener for HTTP modes.

``pyrama serve echo`` and ``pyrama serve ip`` serve HTTP with a pyrama
:class:`~pyrama_http.HttpServer` (HTTP/1.1 and HTTP/2 on one port): h2c by prior knowledge
on plain connections, ALPN ``h2``/``http/1.1`` with ``--secure``. The flags added here set
the server's :class:`~pyrama_http_core.HttpLimits` and the protocol versions; they are
refused in the modes that do not speak HTTP.

Nothing here imports pyrama-http until a command runs (``pyrama --help`` stays light).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from pyrama.cli._serve import ServeSettings, Started
from pyrama.cli._tls_options import SERVER_TLS_FLAGS, positive_seconds
from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger

if TYPE_CHECKING:
    from pyrama_core import Service, ShutdownGuard
    from pyrama_http_core import HttpLimits
    from pyrama_http_types import Request, Response

__all__ = [
    "DEFAULT_HEADER_READ_TIMEOUT",
    "DEFAULT_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEADER_SIZE",
    "HTTP_FLAGS",
    "RequestLogService",
    "add_http_arguments",
    "client_ip",
    "http_limits",
    "peer_text",
    "reject_http_flags",
    "start_http",
]

_log = get_logger("pyrama.cli")
_std_log = logging.getLogger("pyrama.cli")

HTTP_FLAGS: Final[tuple[tuple[str, str], ...]] = (
    ("secure", "--secure"),
    ("http_versions", "--http-versions"),
    ("header_timeout", "--header-timeout"),
    ("idle_timeout", "--idle-timeout"),
    ("max_header_bytes", "--max-header-bytes"),
    ("max_headers", "--max-headers"),
    ("max_body_bytes", "--max-body-bytes"),
)
"""(namespace attribute, flag) of every HTTP flag (refused in the non-HTTP modes)."""

# The server's defaults, for the help text only (``pyrama --help`` must not import
# pyrama-http); a test checks them against pyrama_http_core / pyrama_http.
DEFAULT_HEADER_READ_TIMEOUT: Final = 30.0
DEFAULT_KEEP_ALIVE_TIMEOUT: Final = 60.0
DEFAULT_MAX_HEADER_SIZE: Final = 64 * 1024
DEFAULT_MAX_HEADERS: Final = 100
DEFAULT_MAX_BODY_SIZE: Final = 16 * 1024 * 1024


def _byte_count(text: str) -> int:
    """A size in bytes: ``65536``, ``64k``, ``16M``, ``1G`` (powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    raw = text.strip().lower().removesuffix("b").removesuffix("i")
    scale = 1
    if raw[-1:] in units:
        scale = units[raw[-1]]
        raw = raw[:-1]
    if not raw.isascii() or not raw.isdigit():
        raise argparse.ArgumentTypeError(f"not a size in bytes (65536, 64k, 16M): {text!r}")
    return int(raw) * scale


def _positive_bytes(text: str) -> int:
    value = _byte_count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, got {text!r}")
    return value


def _positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def add_http_arguments(parser: argparse.ArgumentParser, *, modes: str = "http") -> None:
    """Add the HTTP server flags (``--secure``, versions, limits) to *parser*.

    *modes* names the ``--mode`` values they apply to (for the group title).
    """
    group = parser.add_argument_group(f"HTTP (--mode {modes})")
    group.add_argument(
        "--secure",
        action="store_true",
        default=None,
        help="serve HTTPS: TLS with ALPN h2 and http/1.1 (self-signed certificate unless "
        "--cert/--key are given; the TLS flags below apply)",
    )
    group.add_argument(
        "--http-versions",
        choices=["auto", "http1", "h2"],
        default=None,
        help="auto: HTTP/1.1 and HTTP/2 on one port (ALPN with --secure, else h2c by prior "
        "knowledge); http1 or h2: that version only (default: auto)",
    )
    group.add_argument(
        "--header-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=None,
        help="a client must send a complete request head within this long once it started "
        "one (slowloris protection: 408 and close) "
        f"(default: {DEFAULT_HEADER_READ_TIMEOUT:g})",
    )
    group.add_argument(
        "--idle-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=None,
        help="close a keep-alive connection after this long without a request "
        f"(default: {DEFAULT_KEEP_ALIVE_TIMEOUT:g})",
    )
    group.add_argument(
        "--max-header-bytes",
        metavar="SIZE",
        type=_positive_bytes,
        default=None,
        help="largest request head accepted, request line included (431 above it); "
        f"accepts 64k, 1M... (default: {DEFAULT_MAX_HEADER_SIZE // 1024}k)",
    )
    group.add_argument(
        "--max-headers",
        metavar="N",
        type=_positive_count,
        default=None,
        help=f"most header fields in one request (431 above it) (default: {DEFAULT_MAX_HEADERS})",
    )
    group.add_argument(
        "--max-body-bytes",
        metavar="SIZE",
        type=_byte_count,
        default=None,
        help="largest request body accepted (413 above it); accepts 64k, 16M... "
        f"(default: {DEFAULT_MAX_BODY_SIZE >> 20}M)",
    )


def reject_http_flags(args: argparse.Namespace, mode: str) -> None:
    """Raise :class:`ConfigError` if an HTTP flag was given to the non-HTTP *mode*."""
    given = [flag for attr, flag in HTTP_FLAGS if getattr(args, attr, None) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: only with --mode http, not --mode {mode}")


def http_limits(args: argparse.Namespace) -> HttpLimits:
    """The :class:`~pyrama_http_core.HttpLimits` the HTTP flags ask for (defaults filled in)."""
    from pyrama_http_core import HttpLimits

    settings: dict[str, Any] = {"max_body_size": DEFAULT_MAX_BODY_SIZE}
    for attr, field in (
        ("header_timeout", "header_read_timeout"),
        ("idle_timeout", "keep_alive_timeout"),
        ("max_header_bytes", "max_header_size"),
        ("max_headers", "max_headers"),
        ("max_body_bytes", "max_body_size"),
    ):
        value = getattr(args, attr, None)
        if value is not None:
            settings[field] = value
    return HttpLimits(**settings)


def client_ip(request: Request) -> str | None:
    """The IP address of the client that sent *request* (its socket peer), if known."""
    from pyrama_net import SocketInfo

    info = request.extensions.get(SocketInfo)
    if info is None:
        return None
    peer = info.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None


def peer_text(request: Request) -> str | None:
    """``127.0.0.1:5555`` / ``[::1]:5555``: the socket peer of *request*, if known."""
    from pyrama_net import SocketInfo

    info = request.extensions.get(SocketInfo)
    if info is None:
        return None
    peer = info.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer)


class RequestLogService:
    """``Service[Request, Response]``: with ``-v``, one debug line per request, then serve.

    Logs the peer, method, target, version, status and the service's time. Without debug
    logging it is not in the stack at all (see :func:`start_http`).
    """

    __slots__ = ("inner", "service")

    def __init__(self, inner: Service[Request, Response], service: str) -> None:
        self.inner = inner
        self.service = service

    async def serve(self, request: Request, /) -> Response:
        """Serve *request* with the inner service and log the exchange."""
        started = time.monotonic()
        response = await self.inner.serve(request)
        _log.debug(
            "http request",
            service=self.service,
            peer=peer_text(request),
            method=str(request.method),
            uri=str(request.uri),
            version=str(request.version),
            status=int(response.status),
            ms=round((time.monotonic() - started) * 1000, 3),
        )
        return response


def _reject_tls_without_secure(args: argparse.Namespace) -> None:
    given = [flag for attr, flag in SERVER_TLS_FLAGS if getattr(args, attr, None) not in (None, [])]
    if given:
        raise ConfigError(f"{', '.join(given)}: only with --secure in --mode http")


async def start_http(
    s: ServeSettings, guard: ShutdownGuard, service: Service[Request, Response]
) -> Started:
    """Bind ``s.bind`` and serve HTTP (HTTPS with ``--secure``) with *service*.

    The stack, outermost first: the TCP connection layers of :func:`~pyrama.cli._tcp.start_tcp`
    (logging, ``--concurrent``, ``--timeout``), TLS with ALPN when ``--secure``, then the
    :class:`~pyrama_http.HttpServer` with the limits from the HTTP flags.
    """
    from pyrama.cli._streams import debug_enabled
    from pyrama.cli._tcp import start_tcp
    from pyrama_http import HttpServer, HttpVersions

    args = s.args
    limits = http_limits(args)
    versions = HttpVersions(args.http_versions or "auto")
    server = HttpServer(versions, limits=limits)
    if debug_enabled():
        service = RequestLogService(service, s.command)
    stream_svc: Service[Any, None] = server.service(service)
    details: dict[str, object] = {
        "http": versions.value,
        "header_timeout": limits.header_read_timeout,
        "max_header_bytes": limits.max_header_size,
        "max_body_bytes": limits.max_body_size,
    }
    if args.secure:
        from pyrama.cli._tls_options import TlsAcceptedLogService, server_tls
        from pyrama_tls import TlsAcceptorLayer

        tls = server_tls(args)
        data = server.tls_acceptor_data(tls.data)
        stream_svc = TlsAcceptorLayer(data).layer(TlsAcceptedLogService(stream_svc, s.command))
        details.update(tls.details)
        details["alpn"] = ",".join(p.decode("ascii", "replace") for p in data.alpn)
        details["secure"] = True
    else:
        _reject_tls_without_secure(args)
    started = await start_tcp(s, guard, stream_svc)
    return Started(started.address, started.task, started.in_flight, _merged(details))


def _merged(details: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in details.items() if v is not None}
