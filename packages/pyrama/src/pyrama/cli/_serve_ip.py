"""``pyrama serve ip``: tell each client the IP address it connects from.

Over HTTP (the default) every request is answered with the client's IP address as text, or
as JSON (``{"ip": "...", "port": ...}``) with ``--json`` or when the request prefers
``application/json`` (``Accept``). With ``--mode tcp`` the address is written on the
connection, followed by a newline, and the connection is closed.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard

if TYPE_CHECKING:
    from pyrama.net import Stream
    from pyrama_http_types import Request, Response

__all__ = ["COMMAND", "IpService", "wants_json"]


def wants_json(request: Request) -> bool:
    """Whether *request*'s ``Accept`` header prefers ``application/json`` over ``text/plain``."""
    from pyrama_http_types import Accept

    accept = request.headers.typed_try_get(Accept)
    if accept is None:
        return False
    for item in accept.preferred():
        media = item.value.partition(";")[0].strip().lower()
        if media == "application/json":
            return True
        if media in ("text/plain", "text/*"):
            return False
    return False


class IpService:
    """``Service[Request, Response]``: the client's IP address, as text or JSON.

    *json* always answers JSON; otherwise JSON is sent when the client's ``Accept`` prefers
    it (see :func:`wants_json`). A request without a socket peer (a test, a Unix socket) is
    answered ``500``.
    """

    __slots__ = ("json",)

    def __init__(self, *, json: bool = False) -> None:
        self.json = json

    async def serve(self, request: Request, /) -> Response:
        """Answer *request* with its client's IP address."""
        from pyrama.cli._http import client_ip
        from pyrama_http_types import Response
        from pyrama_net import SocketInfo

        ip = client_ip(request)
        if ip is None:
            return Response.text("the client's address is unknown\n", 500)
        if self.json or wants_json(request):
            info = request.extensions.get(SocketInfo)
            port = info.peer[1] if info is not None and isinstance(info.peer, tuple) else None
            return Response.json({"ip": ip, "port": port})
        return Response.text(ip + "\n")

    def __repr__(self) -> str:
        return f"IpService(json={self.json})"


async def _write_ip(stream: Stream) -> None:
    from pyrama.net import SocketInfo

    info = stream.extensions.get(SocketInfo)
    peer = None if info is None else info.peer
    ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
    stream.write(ip.encode("ascii", "replace") + b"\n")
    await stream.drain()
    if stream.can_write_eof() and not stream.is_closing():
        stream.write_eof()


async def _http(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import start_http

    return await start_http(s, guard, IpService(json=bool(s.args.json)))


async def _tcp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import reject_http_flags
    from pyrama.cli._tcp import start_tcp
    from pyrama.cli._tls_options import reject_server_tls_flags
    from pyrama_core import service_fn
    from pyrama_core.errors import ConfigError

    reject_server_tls_flags(s.args, s.mode)
    reject_http_flags(s.args, s.mode)
    if s.args.json:
        raise ConfigError("--json: only with --mode http, not --mode tcp")
    return await start_tcp(s, guard, service_fn(_write_ip))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._http import add_http_arguments
    from pyrama.cli._tls_options import add_server_tls_arguments

    parser.add_argument(
        "--json",
        action="store_true",
        help='HTTP: always answer JSON ({"ip": ..., "port": ...}); without it, JSON only '
        "for clients whose Accept header prefers application/json",
    )
    add_http_arguments(parser)
    add_server_tls_arguments(parser, only_mode="http --secure")


COMMAND = ServeCommand(
    name="ip",
    help="what-is-my-IP server: answers each client with its IP address (HTTP or TCP)",
    description=(
        "Tells each client the IP address it connects from. Over HTTP (the default; HTTP/1.1\n"
        "and HTTP/2, HTTPS with --secure) the answer is the address as text, or JSON with\n"
        "--json or when the request's Accept header prefers application/json. With --mode tcp\n"
        "the address and a newline are written and the connection is closed. Behind a proxy\n"
        "this is the proxy's address: no Forwarded or X-Forwarded-For header is trusted."
    ),
    modes={
        "http": Mode(
            _http,
            ("net", "tcp", "tls", "http_types", "http_core", "http"),
            "the IP address as the HTTP answer (text or JSON)",
        ),
        "tcp": Mode(_tcp, ("net", "tcp"), "the IP address written on the TCP connection"),
    },
    default_mode="http",
    default_timeout=300.0,
    add_arguments=_add_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve ip                            HTTP on 127.0.0.1:8080\n"
        "  pyrama serve ip --json --bind 0.0.0.0:80   every interface, JSON answers\n"
        "  pyrama serve ip --secure --bind :8443      HTTPS, self-signed certificate\n"
        "  pyrama serve ip --mode tcp --bind :9000    nc 127.0.0.1 9000 prints the address\n"
    ),
)
