"""``pyrama serve forward``: a layer-4 forwarding proxy to one fixed target."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard
from pyrama_core.errors import PyramaError
from pyrama_core.telemetry import get_logger

if TYPE_CHECKING:
    from pyrama.net import Authority, Stream

__all__ = ["COMMAND"]

_log = get_logger("pyrama.cli")

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_UDP_IDLE = 60.0


class _Forward:
    """``Service[Stream, None]``: connect to the target and relay both ways until both end.

    Everything that does not change per connection (the connector, the target's host and
    port, the functions used) is looked up once here, not per connection.
    """

    __slots__ = ("_bridge", "_connect", "_host", "_port", "_streams", "connector", "target")

    def __init__(self, target: Authority, connect_timeout: float) -> None:
        # imported here, not at module level: `pyrama --help` must stay light
        from pyrama.cli import _streams
        from pyrama.net import bridge, target_host_port
        from pyrama_tcp import TcpConnector

        self.target = target
        self.connector = TcpConnector(connect_timeout=connect_timeout)
        self._host, self._port = target_host_port(target)
        self._connect = self.connector.connect
        self._bridge = bridge
        self._streams = _streams

    async def serve(self, stream: Stream, /) -> None:
        """Relay *stream* to the target; an unreachable target closes the client cleanly."""
        try:
            upstream = await self._connect(self._host, self._port)
        except (OSError, PyramaError) as exc:
            _log.warning(
                "target unreachable",
                peer=self._streams.peer_of(stream),
                target=str(self.target),
                error=str(exc),
            )
            await self._streams.refuse(stream)
            return
        stats = await self._bridge(stream, upstream)  # owns and closes both streams
        if self._streams.debug_enabled():
            _log.debug(
                "forwarded",
                peer=self._streams.peer_of(stream),
                target=str(self.target),
                up=stats.a_to_b,
                down=stats.b_to_a,
                zero_copy=stats.zero_copy,
            )


async def _tcp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._tcp import start_tcp

    started = await start_tcp(s, guard, _Forward(s.args.to, s.args.connect_timeout))
    details = {"target": str(s.args.to)}
    return Started(started.address, started.task, started.in_flight, details)


async def _udp(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._udp import start_udp_relay
    from pyrama_udp import DEFAULT_MAX_SESSIONS, UdpRelay

    relay = UdpRelay(
        s.args.to,
        idle_timeout=s.timeout or DEFAULT_UDP_IDLE,
        max_sessions=s.concurrent or DEFAULT_MAX_SESSIONS,
    )
    started = await start_udp_relay(s, guard, relay)
    details = {"target": str(s.args.to), "idle_timeout": s.timeout or DEFAULT_UDP_IDLE}
    return Started(started.address, started.task, started.in_flight, details)


def _target(text: str) -> Authority:
    from pyrama.net import Authority

    try:
        return Authority.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid --to: {exc}") from None


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to",
        metavar="HOST:PORT",
        type=_target,
        required=True,
        help="where to forward to: an IP address or a name, and a port "
        "(example.com:443, 10.0.0.5:5432, [::1]:8080)",
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=DEFAULT_CONNECT_TIMEOUT,
        help="TCP: give up connecting to the target after this long, DNS included "
        f"(default: {DEFAULT_CONNECT_TIMEOUT:g})",
    )


COMMAND = ServeCommand(
    name="forward",
    help="layer-4 forwarding proxy to one target (TCP or UDP)",
    description=(
        "Layer-4 forwarding proxy: every TCP connection is relayed, both ways, to the --to\n"
        "target over a connection of its own (zero-copy with splice(2) on Linux); half-close\n"
        "is passed through. A target that cannot be reached closes the client's connection.\n"
        "\n"
        "With --mode udp every client (address and port) gets its own socket to the target;\n"
        "replies go back to that client. There, --timeout is the idle time after which a\n"
        f"client's session ends (0 = {DEFAULT_UDP_IDLE:g} s) and --concurrent the number of\n"
        "clients relayed at once (datagrams from more are dropped)."
    ),
    modes={
        "tcp": Mode(_tcp, ("net", "tcp"), "relay TCP connections"),
        "udp": Mode(_udp, ("net", "udp"), "relay UDP datagrams per client"),
    },
    default_mode="tcp",
    default_timeout=0.0,
    add_arguments=_add_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve forward --bind :9000 --to 10.0.0.5:5432\n"
        "  pyrama serve forward --bind 0.0.0.0:8443 --to example.com:443 --concurrent 500\n"
        "  pyrama serve forward --mode udp --bind :5353 --to 1.1.1.1:53\n"
    ),
)
