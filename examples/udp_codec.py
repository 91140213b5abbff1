r"""A UDP datagram service behind a tiny line codec: it shouts every line back.

A datagram service is a ``Service[Datagram, bytes | None]``: the bytes it returns go back to
the sender. Here the service itself only knows about text lines; two map layers are the
codec around it, and two error layers turn bad input into an ``ERR`` reply::

    ConsumeErrLayer(handler)  an error becomes the reply "ERR <reason>"
    TraceErrLayer             logs the error first
    MapInputLayer(decode)     Datagram -> list of lines (UTF-8, at most 10 lines of 200 chars)
    MapOutputLayer(encode)    list of lines -> bytes, one "\n" after each line
    shout                     the service: upper-cases every line

Run it::

    python examples/udp_codec.py            # listens on UDP 127.0.0.1:62003 (PORT=0: any)

It logs ``listening address=127.0.0.1:62003``. Then::

    echo "hello pyrama" | socat -t 1 - UDP:127.0.0.1:62003    # prints HELLO PYRAMA
    printf '\xff\n' | nc -u -w 1 127.0.0.1 62003            # prints ERR ... not UTF-8

Ctrl-C (or SIGTERM) stops it gracefully.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from pyrama_core import Shutdown, layers, service_fn
from pyrama_core.errors import LimitError, ProtocolError
from pyrama_core.layer import ConsumeErrLayer, MapInputLayer, MapOutputLayer, TraceErrLayer
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_udp import Datagram, UdpSocket, serve_datagrams

DEFAULT_PORT = 62003
MAX_LINES = 10
MAX_LINE_LENGTH = 200

log = get_logger("udp_codec")


def decode(dgram: Datagram) -> list[str]:
    """Split a datagram into text lines; refuse what is not UTF-8 or is too big."""
    try:
        text = dgram.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"datagram is not UTF-8 (byte {exc.start})") from exc
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise LimitError(f"more than {MAX_LINES} lines", limit=MAX_LINES)
    if any(len(line) > MAX_LINE_LENGTH for line in lines):
        raise LimitError(f"a line is longer than {MAX_LINE_LENGTH}", limit=MAX_LINE_LENGTH)
    return lines


def encode(lines: list[str]) -> bytes:
    """Join lines into one datagram, each ended by a newline."""
    return "".join(f"{line}\n" for line in lines).encode()


async def shout(lines: list[str]) -> list[str]:
    """The service: every line in upper case."""
    return [line.upper() for line in lines]


def error_reply(exc: Exception) -> bytes:
    """What a sender gets back when its datagram was refused."""
    return f"ERR {exc}\n".encode()


def build_service() -> Any:
    """The codec and error layers around :func:`shout` (first layer = outermost)."""
    return layers(
        ConsumeErrLayer(handler=error_reply),
        TraceErrLayer("warning", event="datagram refused"),
        MapInputLayer(decode),
        MapOutputLayer(encode),
    ).into(service_fn(shout))


async def main(port: int) -> None:
    """Bind UDP 127.0.0.1:*port* and serve datagrams until SIGINT/SIGTERM."""
    async with await UdpSocket.bind(("127.0.0.1", port)) as sock:
        log.info("listening", address=str(sock.local_addr))
        shutdown = Shutdown.with_signals(deadline=5.0)
        with shutdown.guard() as guard:
            guard.spawn_task(serve_datagrams(sock, build_service(), guard=guard.clone()))
        await shutdown.wait_complete()
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
