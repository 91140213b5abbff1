"""Load tools: the connection-rate tool (C, built on demand) and its Python fallback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks._harness import BenchError, find_tool

__all__ = ["connrate_command"]

_SOURCE = Path(__file__).resolve().parent / "tools" / "connrate.c"


def connrate_command(workdir: Path, *, force_python: bool = False) -> tuple[list[str], str]:
    """The argv prefix of the connrate tool and a label saying which one it is.

    The C tool is compiled into *workdir* with the system C compiler; without one (or with
    *force_python*) the pure-Python stand-in is used.
    """
    cc = None if force_python else (find_tool("cc") or find_tool("gcc") or find_tool("clang"))
    if cc is not None:
        out = workdir / "connrate"
        proc = subprocess.run(
            [cc, "-O2", "-pthread", "-o", str(out), str(_SOURCE)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"building {_SOURCE.name} failed:\n{proc.stderr}")
        return [str(out)], "connrate (C, pthreads)"
    return [sys.executable, "-m", "benchmarks._pyconnrate"], "connrate (Python fallback)"
