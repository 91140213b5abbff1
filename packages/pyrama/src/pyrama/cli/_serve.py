"""``pyrama serve <service>``: the serve commands, their modes and common flags.

Each service (echo, discard, forward) is a :class:`ServeCommand` in its own module, with a
table of *modes* (``tcp``, ``udp``, later ``http``...). A mode is an async starter that binds,
starts serving tied to a shutdown guard and reports the bound address; everything else
(flags, logging, the event loop, signals, graceful shutdown) is shared and lives here and in
:mod:`pyrama.cli._runtime`. Adding a mode is adding one entry to a command's table.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyrama._lazy import load_subpackage
from pyrama.cli._bind import DEFAULT_BIND_HOST, parse_bind

if TYPE_CHECKING:
    from pyrama.net import Authority
    from pyrama_core import ShutdownGuard

__all__ = [
    "COMMON_EPILOG",
    "Mode",
    "ModeStarter",
    "ServeCommand",
    "ServeSettings",
    "Started",
    "register",
]


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """Everything a mode needs to start, parsed from the command line.

    ``concurrent`` is ``None`` for no limit; ``timeout`` is ``None`` for no per-connection
    deadline; ``args`` keeps the raw namespace for command-specific flags (``--to``).
    """

    command: str
    mode: str
    bind: Authority
    concurrent: int | None
    timeout: float | None
    graceful: float
    args: argparse.Namespace


@dataclass(frozen=True, slots=True)
class Started:
    """What a mode reports once it listens: the bound address and its serving task.

    ``address`` is printable (``127.0.0.1:8080``, ``[::1]:8080``), with the real port when
    port 0 was asked for. If ``task`` ends before shutdown, the server failed. ``in_flight``
    counts the connections (UDP: peers) being served; ``details`` go into the listening log
    line.
    """

    address: str
    task: asyncio.Task[Any] | None = None
    in_flight: Callable[[], int] | None = None
    details: Mapping[str, object] = field(default_factory=dict)


ModeStarter = Callable[[ServeSettings, "ShutdownGuard"], Awaitable[Started]]
"""Binds, starts serving (tasks spawned through the guard) and returns :class:`Started`."""


@dataclass(frozen=True, slots=True)
class Mode:
    """One transport of a serve command: its starter and the sub-packages it needs.

    *requires* names ``pyrama.<x>`` sub-packages (``"tcp"``); they are checked before the
    server starts so a missing distribution gives a clear ``pip install`` message.
    """

    start: ModeStarter
    requires: tuple[str, ...]
    help: str = ""


@dataclass(frozen=True, slots=True)
class ServeCommand:
    """One ``pyrama serve <name>`` command.

    *modes* maps a mode name to its starter; *default_mode* is used without ``--mode``.
    *default_timeout* is the per-connection deadline default (0 = none). *add_arguments*
    adds command-specific flags.
    """

    name: str
    help: str
    description: str
    modes: Mapping[str, Mode]
    default_mode: str
    default_timeout: float
    default_port: int = 8080
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    examples: str = ""


COMMON_EPILOG = f"""\
--bind takes HOST:PORT, [IPv6]:PORT, HOST, PORT or :PORT (missing parts default to
{DEFAULT_BIND_HOST} and the command's port). Port 0 picks a free port; the "listening"
log line shows the address actually bound. Nothing listens beyond loopback unless you
bind to another address (e.g. 0.0.0.0 or [::]).

Ctrl-C or SIGTERM stops accepting and lets connections in flight finish for up to
--graceful seconds, then cancels them and exits with 0; a second Ctrl-C skips the wait.
Exit code 1 means the server could not start (port in use, ...) or failed.
"""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"seconds must be a finite number >= 0, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser, command: ServeCommand) -> None:
    modes = "; ".join(f"{name}: {m.help}" if m.help else name for name, m in command.modes.items())

    def bind_type(text: str) -> Authority:
        try:
            return parse_bind(text, default_port=command.default_port)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parser.add_argument(
        "--mode",
        choices=list(command.modes),
        default=command.default_mode,
        help=f"what to serve ({modes}); default: {command.default_mode}",
    )
    parser.add_argument(
        "--bind",
        metavar="ADDRESS",
        type=bind_type,
        default=f"{DEFAULT_BIND_HOST}:{command.default_port}",
        help=f"where to listen (default: {DEFAULT_BIND_HOST}:{command.default_port}); "
        "see below for the accepted forms",
    )
    parser.add_argument(
        "--concurrent",
        metavar="N",
        type=_count,
        default=0,
        help="TCP: at most N connections at once, more are refused (closed at once); "
        "UDP echo/discard: at most N datagrams handled at once; UDP forward: at most N "
        "clients. 0 = no limit (UDP: 256 datagrams, 1024 clients) (default: 0)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=command.default_timeout,
        help="TCP: close a connection once it has lived this long; UDP forward: end a "
        "client's session after this long without traffic; UDP echo/discard: unused. "
        f"0 = never (UDP forward: 60) (default: {command.default_timeout:g})",
    )
    parser.add_argument(
        "--graceful",
        metavar="SECONDS",
        type=_seconds,
        default=5.0,
        help="on Ctrl-C/SIGTERM, give connections in flight this long to finish (default: 5)",
    )
    parser.add_argument(
        "--log-format",
        choices=["console", "json"],
        default="console",
        help="log lines for humans (console, default) or one JSON object per line (json)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more: -v adds debug lines (per connection)",
    )


def _settings(command: ServeCommand, args: argparse.Namespace) -> ServeSettings:
    return ServeSettings(
        command=command.name,
        mode=args.mode,
        bind=args.bind if getattr(args, "address", None) is None else args.address,
        concurrent=args.concurrent or None,
        timeout=args.timeout or None,
        graceful=args.graceful,
        args=args,
    )


def _handler(command: ServeCommand) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        for needed in command.modes[args.mode].requires:
            load_subpackage(needed)  # raises MissingDistributionError naming the fix
        from pyrama.cli._runtime import run_server  # keeps `pyrama --help` light

        return run_server(command, _settings(command, args), args)

    return handle


def _add_command(serve_commands: Any, command: ServeCommand, name: str | None = None) -> None:
    """Add *command* to *serve_commands* as *name* (default: the command's name)."""
    epilog = COMMON_EPILOG if not command.examples else command.examples + "\n" + COMMON_EPILOG
    parser: argparse.ArgumentParser = serve_commands.add_parser(
        name or command.name,
        help=command.help,
        description=command.description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser, command)
    if command.add_arguments is not None:
        command.add_arguments(parser)
    parser.set_defaults(handler=_handler(command), parser=parser)


def register(commands: Any) -> None:
    """Add ``serve`` and its sub-commands to the top-level *commands* sub-parsers."""
    from pyrama.cli import (
        _discard,
        _echo,
        _forward,
        _serve_fs,
        _serve_http_test,
        _serve_ip,
        _serve_proxy,
        _stunnel,
    )

    parser: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run a ready-made server: echo, ip, discard, forward, stunnel, proxy, fs, http-test",
        description="Run a ready-made pyrama server. Pick a service; each has its own --help.",
    )
    parser.set_defaults(handler=None, parser=parser)
    serve_commands = parser.add_subparsers(title="services", metavar="SERVICE")
    for command in (_echo.COMMAND, _serve_ip.COMMAND, _discard.COMMAND, _forward.COMMAND):
        _add_command(serve_commands, command)
    _stunnel.register(serve_commands)
    _add_command(serve_commands, _serve_proxy.COMMAND)
    _add_command(serve_commands, _serve_fs.COMMAND)
    _add_command(serve_commands, _serve_http_test.COMMAND)
