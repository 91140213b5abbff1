"""``pyrama serve fs``: serve a directory (or one file) over HTTP(S).

A :class:`~pyrama_http.fs.ServeDir` (or :class:`~pyrama_http.fs.ServeFile` when PATH is a
file) behind the shared HTTP server: byte ranges, ``ETag``/``Last-Modified`` with
conditional requests, precompressed ``.br``/``.zst``/``.gz`` siblings, optional directory
listings. Nothing outside PATH is reachable; symlinks are refused unless
``--follow-symlinks`` (and then only when they stay inside PATH).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard
from pyrama_core.errors import ConfigError

if TYPE_CHECKING:
    from pyrama_core import Service
    from pyrama_http_types import Request, Response

__all__ = ["COMMAND"]


def _service(args: argparse.Namespace) -> tuple[Service[Request, Response], str]:
    """The file service PATH asks for, and PATH made absolute (run once, at start-up)."""
    from pyrama_http.fs import PRECOMPRESSED_ENCODINGS, ServeDir, ServeFile, SymlinkPolicy

    path = os.path.abspath(args.path)
    precompressed = () if args.no_precompressed else PRECOMPRESSED_ENCODINGS
    if os.path.isdir(path):
        return ServeDir(
            path,
            listing=args.listing,
            index_files=() if args.no_index else ("index.html", "index.htm"),
            symlinks=SymlinkPolicy.WITHIN_ROOT if args.follow_symlinks else SymlinkPolicy.DENY,
            precompressed=precompressed,
        ), path
    if os.path.isfile(path):
        return ServeFile(path, precompressed=precompressed), path
    raise ConfigError(f"{args.path}: no such directory or file")


async def _http(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import start_http

    service, path = _service(s.args)
    started = await start_http(s, guard, service)
    details = dict(started.details)
    details.update(root=path, listing=bool(s.args.listing))
    return Started(started.address, started.task, started.in_flight, details)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._http import add_http_arguments
    from pyrama.cli._tls_options import add_server_tls_arguments

    parser.add_argument(
        "path",
        metavar="PATH",
        nargs="?",
        default=".",
        help="the directory to serve, or a single file (default: the current directory)",
    )
    parser.add_argument(
        "--listing",
        action="store_true",
        help="answer a directory without an index.html with an HTML list of its entries",
    )
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="never serve index.html/index.htm for a directory",
    )
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links whose target is inside PATH (default: refuse all)",
    )
    parser.add_argument(
        "--no-precompressed",
        action="store_true",
        help="ignore precompressed siblings (file.br, file.zst, file.gz); by default one is "
        "sent when the client's Accept-Encoding allows it",
    )
    add_http_arguments(parser)
    add_server_tls_arguments(parser, only_mode="http --secure")


COMMAND = ServeCommand(
    name="fs",
    help="static file server: a directory or file over HTTP(S), ranges and conditional GETs",
    description=(
        "Serves the files below PATH (a directory, the current one by default) or the single\n"
        "file PATH over HTTP/1.1 and HTTP/2 (HTTPS with --secure). GET and HEAD, byte ranges\n"
        "(curl -r, also several ranges as multipart/byteranges), ETag and Last-Modified with\n"
        "If-None-Match/If-Modified-Since (304) and If-Match/If-Unmodified-Since (412),\n"
        "content types from file names, precompressed .br/.zst/.gz siblings chosen by\n"
        "Accept-Encoding, index.html for directories and, with --listing, HTML listings.\n"
        "Paths that would leave PATH ('..', encoded or not) are answered 404."
    ),
    modes={
        "http": Mode(
            _http,
            ("net", "tcp", "tls", "http_types", "http_core", "http"),
            "the files over HTTP/1.1 and h2 (HTTPS with --secure)",
        ),
    },
    default_mode="http",
    default_timeout=0.0,
    add_arguments=_add_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve fs                             this directory on 127.0.0.1:8080\n"
        "  pyrama serve fs ./site --listing            with directory listings\n"
        "  pyrama serve fs ./site --secure --bind :8443\n"
        "  pyrama serve fs big.iso --bind 0.0.0.0:8080 one file, every interface\n"
    ),
)
