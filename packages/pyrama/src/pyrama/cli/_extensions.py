"""``pyrama extensions``: list the installed community extensions."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pyrama._registry import EXTENSION_GROUP, ExtensionInfo, list_extensions
from pyrama.errors import ExtensionError

__all__ = ["register", "run"]

_DESCRIPTION = f"""\
List the installed pyrama extensions.

An extension is a distribution (by convention named pyrama-x-<name>, importing
pyrama_x_<name>) that declares an entry point in the {EXTENSION_GROUP!r} group, e.g. in
its pyproject.toml:

  [project.entry-points."{EXTENSION_GROUP}"]
  hello = "pyrama_x_hello"

Listing only reads installed metadata; --load also imports each extension to check it.
"""


def register(commands: Any) -> None:
    """Add the ``extensions`` command to the *commands* sub-parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "extensions",
        help="list installed pyrama extensions (pyrama-x-* distributions)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    parser.add_argument(
        "--load",
        action="store_true",
        help="import every extension and report the ones that fail (exit code 1 if any does)",
    )
    parser.set_defaults(handler=run)


def _row(ext: ExtensionInfo) -> dict[str, Any]:
    return {
        "name": ext.name,
        "distribution": ext.distribution,
        "version": ext.version,
        "target": ext.target,
        "summary": ext.summary,
    }


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def run(args: argparse.Namespace) -> int:
    """List extensions as a table (or JSON); with ``--load`` import each one too."""
    exts = list_extensions()
    errors: dict[str, str] = {}
    if args.load:
        for ext in exts:
            try:
                ext.load()
            except ExtensionError as exc:
                errors[ext.name] = str(exc)
    if args.json:
        items = [_row(e) | ({"error": errors.get(e.name)} if args.load else {}) for e in exts]
        print(json.dumps(items, indent=2))
    elif not exts:
        print(f"no pyrama extensions installed (none registers the {EXTENSION_GROUP!r} group)")
    else:
        header = ["NAME", "DISTRIBUTION", "VERSION", "TARGET", "SUMMARY"]
        if args.load:
            header.insert(4, "LOADS")
        rows = [header]
        for e in exts:
            row = [e.name, e.distribution or "?", e.version or "?", e.target, e.summary]
            if args.load:
                row.insert(4, "error" if e.name in errors else "ok")
            rows.append(row)
        print(_table(rows))
    for message in errors.values():
        print(f"pyrama: {message}", file=sys.stderr)
    return 1 if errors else 0
