"""``pyrama serve echo``: send back every byte (TCP) or datagram (UDP) received (RFC 862)."""

from __future__ import annotations

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard, service_fn

__all__ = ["COMMAND"]


async def _tcp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._streams import echo_stream
    from pyrama.cli._tcp import start_tcp

    return await start_tcp(s, guard, service_fn(echo_stream))


async def _udp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._udp import echo_datagram, start_udp

    return await start_udp(s, guard, echo_datagram)


COMMAND = ServeCommand(
    name="echo",
    help="echo server: sends back what it receives (TCP or UDP)",
    description=(
        "Echo server (RFC 862): every byte a TCP client sends is sent back, and its EOF is\n"
        "answered with EOF; with --mode udp every datagram is sent back to its sender,\n"
        "boundaries kept. Handy to test clients, proxies and networks."
    ),
    modes={
        "tcp": Mode(_tcp, ("net", "tcp"), "bytes back over TCP"),
        "udp": Mode(_udp, ("net", "udp"), "datagrams back over UDP"),
    },
    default_mode="tcp",
    default_timeout=300.0,
    examples=(
        "examples:\n"
        "  pyrama serve echo                          TCP echo on 127.0.0.1:8080\n"
        "  pyrama serve echo --mode udp --bind :7007  UDP echo on 127.0.0.1:7007\n"
        "  pyrama serve echo --bind 127.0.0.1:0 --log-format json\n"
    ),
)
