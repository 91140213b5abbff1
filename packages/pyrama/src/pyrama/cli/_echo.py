"""``pyrama serve echo``: send back every byte (TCP, TLS) or datagram (UDP) received (RFC 862)."""

from __future__ import annotations

import argparse

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard, service_fn

__all__ = ["COMMAND"]


async def _tcp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._streams import echo_stream
    from pyrama.cli._tcp import start_tcp
    from pyrama.cli._tls_options import reject_server_tls_flags

    reject_server_tls_flags(s.args, s.mode)
    return await start_tcp(s, guard, service_fn(echo_stream))


async def _udp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._tls_options import reject_server_tls_flags
    from pyrama.cli._udp import echo_datagram, start_udp

    reject_server_tls_flags(s.args, s.mode)
    return await start_udp(s, guard, echo_datagram)


async def _tls(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._streams import echo_stream
    from pyrama.cli._tcp import start_tcp
    from pyrama.cli._tls_options import TlsAcceptedLogService, server_tls
    from pyrama_tls import TlsAcceptorLayer

    tls = server_tls(s.args)
    echo = TlsAcceptedLogService(service_fn(echo_stream), s.command)
    started = await start_tcp(s, guard, TlsAcceptorLayer(tls.data).layer(echo))
    return Started(started.address, started.task, started.in_flight, tls.details)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._tls_options import add_server_tls_arguments

    add_server_tls_arguments(parser, only_mode="tls")


COMMAND = ServeCommand(
    name="echo",
    help="echo server: sends back what it receives (TCP, UDP or TLS)",
    description=(
        "Echo server (RFC 862): every byte a TCP client sends is sent back, and its EOF is\n"
        "answered with EOF; with --mode udp every datagram is sent back to its sender,\n"
        "boundaries kept; with --mode tls the bytes inside a TLS connection are sent back\n"
        "(the client's close_notify is answered with ours). Handy to test clients, proxies\n"
        "and networks."
    ),
    modes={
        "tcp": Mode(_tcp, ("net", "tcp"), "bytes back over TCP"),
        "udp": Mode(_udp, ("net", "udp"), "datagrams back over UDP"),
        "tls": Mode(_tls, ("net", "tcp", "tls"), "bytes back inside TLS over TCP"),
    },
    default_mode="tcp",
    default_timeout=300.0,
    add_arguments=_add_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve echo                          TCP echo on 127.0.0.1:8080\n"
        "  pyrama serve echo --mode udp --bind :7007  UDP echo on 127.0.0.1:7007\n"
        "  pyrama serve echo --bind 127.0.0.1:0 --log-format json\n"
        "  pyrama serve echo --mode tls --bind :8443  TLS echo, self-signed certificate\n"
        "  pyrama serve echo --mode tls --cert chain.pem --key key.pem --alpn h2,http/1.1\n"
    ),
)
