"""Argument parsing and dispatch for the ``pyrama`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pyrama.cli import _extensions, _probe, _send, _serve, _version
from pyrama.errors import MissingDistributionError

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
pyrama: a modular service framework to move and transform network packets.

This tool runs ready-made pyrama services (HTTP echo, what-is-my-IP, discard, layer-4
forwarding, TLS tunnels), sends HTTP requests like curl (`pyrama URL`), probes servers
(TLS) and shows what is installed. Every command has its own --help.
"""

_EPILOG = """\
examples:
  pyrama serve echo --bind 127.0.0.1:8080       HTTP echo: each request described in JSON
  pyrama serve echo --secure --bind :8443        the same over HTTPS (h2 + http/1.1)
  pyrama serve echo --mode tcp                   raw TCP echo server
  pyrama serve ip                                answers with the client's IP address
  pyrama http://127.0.0.1:8080/ -H 'X-Id: 1'     curl-like client (= pyrama send URL)
  pyrama -v -k https://127.0.0.1:8443/           ... with the TLS facts and both heads
  pyrama serve forward --bind :9000 --to example.com:80
  pyrama serve stunnel exit --bind :8443 --forward 127.0.0.1:8080
  pyrama probe tls example.com                   TLS version, cipher, certificate chain
  pyrama extensions                              installed pyrama-x-* extensions
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``pyrama`` argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="pyrama",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _version.add_version_flag(parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _serve.register(commands)
    _send.register(commands)
    _probe.register(commands)
    _extensions.register(commands)
    parser.set_defaults(handler=None, parser=parser)
    return parser


def _top_level_flags(parser: argparse.ArgumentParser) -> frozenset[str]:
    return frozenset(s for action in parser._actions for s in action.option_strings)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pyrama`` command with *argv* (default: ``sys.argv[1:]``); return its exit code.

    Exit codes: 0 success, 1 runtime failure (e.g. the port is in use), 2 usage error;
    ``pyrama send`` (and its shortcut ``pyrama URL``) exits with curl's codes.
    """
    try:
        parser = build_parser()
        raw = list(sys.argv[1:] if argv is None else argv)
        raw = _send.shortcut_argv(raw, _top_level_flags(parser))
        # inside the try: converting --bind already needs pyrama-net
        args = parser.parse_args(raw)
        if args.handler is None:
            args.parser.print_help(sys.stderr)
            return 2
        code: int = args.handler(args)
    except MissingDistributionError as exc:
        print(f"pyrama: {exc}", file=sys.stderr)
        print(
            'pyrama: every server of this tool comes with: pip install "pyrama[cli]"',
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:  # before the server installed its own signal handling
        return 130
    return code
