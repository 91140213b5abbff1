"""Process, port and statistics helpers shared by the benchmark workloads."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BenchError",
    "Proc",
    "cpu_seconds",
    "find_tool",
    "free_port",
    "host_facts",
    "median",
    "pyrama_executable",
    "rotate",
    "start",
    "wait_line",
    "wait_port",
]

REPO = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """A benchmark could not be run (a tool failed, a port never opened, ...)."""


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_tool(name: str) -> str | None:
    """Path of executable *name*, also looking in the sbin directories."""
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def pyrama_executable() -> str:
    """The ``pyrama`` console script of the interpreter running the harness."""
    beside = Path(sys.executable).parent / "pyrama"
    if beside.exists():
        return str(beside)
    found = shutil.which("pyrama")
    if found is None:
        raise BenchError("the pyrama CLI is not installed in this environment")
    return found


@dataclass
class Proc:
    """A background process in its own session, with its output captured to a file."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """Process id."""
        return self.popen.pid

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr together)."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def check_alive(self) -> None:
        """Raise :class:`BenchError` with the process output if it has exited."""
        rc = self.popen.poll()
        if rc is not None:
            raise BenchError(f"{self.name} exited with {rc}:\n{self.output()[-2000:]}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL it if it lingers."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        else:
            # the leader is gone; children (socat forks) may not be
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)


def start(name: str, argv: Sequence[str], workdir: Path, env: dict[str, str] | None = None) -> Proc:
    """Start *argv* in a new session; output goes to ``workdir/<name>.log``."""
    log = workdir / f"{name}.log"
    fh = log.open("wb")
    try:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=REPO,
        )
    finally:
        fh.close()
    return Proc(name, list(argv), popen, log)


def wait_port(proc: Proc, port: int, timeout: float = 20.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:*port*."""
    deadline = time.monotonic() + timeout
    while True:
        proc.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{proc.name} did not listen on 127.0.0.1:{port} within {timeout}s:\n"
                    f"{proc.output()[-2000:]}"
                ) from None
            time.sleep(0.05)


def wait_line(proc: Proc, pattern: str, timeout: float = 20.0) -> re.Match[str]:
    """Wait until the process output matches *pattern* (a regex); return the match."""
    rx = re.compile(pattern, re.MULTILINE)
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(proc.output())
        if m is not None:
            return m
        proc.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(
                f"{proc.name} never printed /{pattern}/ within {timeout}s:\n{proc.output()[-2000:]}"
            )
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of *pid* and its reaped children (Linux ``/proc``)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    # the command name may contain spaces; fields start after the last ')'
    fields = raw[raw.rindex(")") + 2 :].split()
    # utime, stime, cutime, cstime are fields 14..17 (1-based); here offset by 3
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    """Median of *values* (NaN when empty)."""
    return statistics.median(values) if values else float("nan")


def rotate(items: Sequence[str], k: int) -> list[str]:
    """*items* rotated left by *k*: round *k* of an alternating order."""
    if not items:
        return []
    k %= len(items)
    return list(items[k:]) + list(items[:k])


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = [ln.strip() for ln in (out.stdout or out.stderr).strip().splitlines()]
    with_version = [ln for ln in text if "version" in ln.lower()]
    return (with_version or text or ["?"])[0]


def host_facts(tools: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    """(name, value) facts about the machine and tool versions, for the report header."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    yield "CPU", f"{cpu} ({os.cpu_count()} logical CPUs)"
    yield "kernel", platform.release()
    with contextlib.suppress(OSError):
        load = Path("/proc/loadavg").read_text().split()[:3]
        yield "load average at the end (1, 5, 15 min)", " ".join(load)
    yield "python", platform.python_version()
    for name, argv in tools.items():
        yield name, _version(argv)


def selected(csv: str, known: Sequence[str], what: str) -> list[str]:
    """The names of a comma-separated ``--only`` / ``--protocols`` value, checked.

    Raises :class:`BenchError` naming the unknown ones (and the known ones) for *what*.
    """
    wanted = [n.strip() for n in csv.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise BenchError(f"unknown {what}: {sorted(unknown)} (known: {', '.join(known)})")
    return wanted
