"""``pyrama serve discard``: read and drop everything (RFC 863)."""

from __future__ import annotations

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard, service_fn

__all__ = ["COMMAND"]


async def _tcp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._streams import discard_stream
    from pyrama.cli._tcp import start_tcp

    return await start_tcp(s, guard, service_fn(discard_stream))


async def _udp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._udp import discard_datagram, start_udp

    return await start_udp(s, guard, discard_datagram)


COMMAND = ServeCommand(
    name="discard",
    help="discard server: reads and drops everything (TCP or UDP)",
    description=(
        "Discard server (RFC 863): reads everything a TCP client sends until its EOF and\n"
        "never answers; with --mode udp every datagram is dropped. Handy as a sink for\n"
        "throughput tests."
    ),
    modes={
        "tcp": Mode(_tcp, ("net", "tcp"), "swallow a TCP byte stream"),
        "udp": Mode(_udp, ("net", "udp"), "swallow UDP datagrams"),
    },
    default_mode="tcp",
    default_timeout=300.0,
    examples=(
        "examples:\n"
        "  pyrama serve discard                         TCP sink on 127.0.0.1:8080\n"
        "  pyrama serve discard --mode udp --bind :9009\n"
    ),
)
