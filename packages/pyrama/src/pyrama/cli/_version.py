"""``pyrama --version``: every installed pyrama distribution and its version."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import platform
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from pyrama._registry import installed_distributions

__all__ = ["add_version_flag", "version_report"]


def version_report() -> str:
    """The ``--version`` text: one ``name version`` line per pyrama distribution.

    The umbrella comes first, then the family and extensions (marked ``(extension)``) by
    name, then the Python implementation and, when installed, uvloop.
    """
    lines = []
    for dist in installed_distributions():
        lines.append(f"{dist.name} {dist.version}" + (" (extension)" if dist.extension else ""))
    runtime = f"{platform.python_implementation()} {platform.python_version()}"
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        runtime += f", uvloop {importlib.metadata.version('uvloop')}"
    lines.append(f"({runtime})")
    return "\n".join(lines)


class _VersionAction(argparse.Action):
    """Prints :func:`version_report` and exits 0 (like argparse's own ``version`` action)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("nargs", 0)
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        out: TextIO = sys.stdout
        out.write(version_report() + "\n")
        parser.exit(0)


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--version`` to *parser*."""
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="show every installed pyrama distribution (extensions too) with its version",
    )
