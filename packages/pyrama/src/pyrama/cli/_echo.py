"""``pyrama serve echo``: each HTTP request described in JSON, or every byte sent back.

The default mode answers HTTP requests with JSON describing them; the raw modes send back
every byte (TCP, TLS) or datagram (UDP) received (RFC 862).
"""

from __future__ import annotations

import argparse

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard, service_fn

__all__ = ["COMMAND"]


async def _http(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import start_http
    from pyrama.cli._http_echo import HttpEchoService

    return await start_http(s, guard, HttpEchoService())


async def _tcp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import reject_http_flags
    from pyrama.cli._streams import echo_stream
    from pyrama.cli._tcp import start_tcp
    from pyrama.cli._tls_options import reject_server_tls_flags

    reject_server_tls_flags(s.args, s.mode)
    reject_http_flags(s.args, s.mode)
    return await start_tcp(s, guard, service_fn(echo_stream))


async def _udp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import reject_http_flags
    from pyrama.cli._tls_options import reject_server_tls_flags
    from pyrama.cli._udp import echo_datagram, start_udp

    reject_server_tls_flags(s.args, s.mode)
    reject_http_flags(s.args, s.mode)
    return await start_udp(s, guard, echo_datagram)


async def _tls(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import reject_http_flags
    from pyrama.cli._streams import echo_stream
    from pyrama.cli._tcp import start_tcp
    from pyrama.cli._tls_options import TlsAcceptedLogService, server_tls
    from pyrama_tls import TlsAcceptorLayer

    reject_http_flags(s.args, s.mode)
    tls = server_tls(s.args)
    echo = TlsAcceptedLogService(service_fn(echo_stream), s.command)
    started = await start_tcp(s, guard, TlsAcceptorLayer(tls.data).layer(echo))
    return Started(started.address, started.task, started.in_flight, tls.details)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._http import add_http_arguments
    from pyrama.cli._tls_options import add_server_tls_arguments

    add_http_arguments(parser)
    add_server_tls_arguments(parser, only_mode="tls or --mode http --secure")


COMMAND = ServeCommand(
    name="echo",
    help="echo server: describes HTTP requests, or sends back what it receives (TCP, UDP, TLS)",
    description=(
        "Echo server. By default (--mode http) every HTTP request is answered with JSON\n"
        "describing it as the server saw it: method, target, version, the header fields in\n"
        "the order received with their original case, the body (text, or base64 when it is\n"
        "not UTF-8), the peer address and the JA4H fingerprint; over HTTP/2 the Akamai\n"
        "fingerprint; with --secure (HTTPS, ALPN h2 and http/1.1) the TLS version, cipher,\n"
        "ALPN, SNI and the JA3, JA4 and PeetPrint fingerprints of the ClientHello. HTTP/1.1\n"
        "and HTTP/2 share the port (h2c by prior knowledge on plain connections).\n"
        "\n"
        "The raw modes follow RFC 862: every byte a TCP client sends is sent back, and its EOF\n"
        "is answered with EOF; with --mode udp every datagram is sent back to its sender,\n"
        "boundaries kept; with --mode tls the bytes inside a TLS connection are sent back\n"
        "(the client's close_notify is answered with ours). Handy to test clients, proxies\n"
        "and networks."
    ),
    modes={
        "http": Mode(
            _http,
            ("net", "tcp", "tls", "http_types", "http_core", "http"),
            "JSON description of each HTTP request (HTTP/1.1 and h2; HTTPS with --secure)",
        ),
        "tcp": Mode(_tcp, ("net", "tcp"), "bytes back over TCP"),
        "udp": Mode(_udp, ("net", "udp"), "datagrams back over UDP"),
        "tls": Mode(_tls, ("net", "tcp", "tls"), "bytes back inside TLS over TCP"),
    },
    default_mode="http",
    default_timeout=300.0,
    add_arguments=_add_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve echo                          HTTP echo on 127.0.0.1:8080\n"
        "  pyrama serve echo --secure --bind :8443    HTTPS (h2 + http/1.1), self-signed\n"
        "  pyrama serve echo --header-timeout 5 --max-header-bytes 16k --max-body-bytes 1M\n"
        "  pyrama serve echo --mode tcp               TCP echo on 127.0.0.1:8080\n"
        "  pyrama serve echo --mode udp --bind :7007  UDP echo on 127.0.0.1:7007\n"
        "  pyrama serve echo --bind 127.0.0.1:0 --log-format json\n"
        "  pyrama serve echo --mode tls --bind :8443  TLS echo, self-signed certificate\n"
        "  pyrama serve echo --mode tls --cert chain.pem --key key.pem --alpn h2,http/1.1\n"
    ),
)
