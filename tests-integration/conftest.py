"""Shared fixtures for the integration suite: subprocesses, free ports and real peers.

* ``spawn(argv, ...)`` starts a subprocess, waits for its "listening" log line and returns a
  :class:`itsupport.Running` handle (bound address, output, signals). Every process a test
  started is stopped at teardown and its output is printed, so a failing test shows it.
* ``peers`` wraps the third-party clients (socat, nc, curl) used to talk to our servers; a
  missing peer skips the test locally and fails it under ``CI=true``
  (:func:`pyrama_testing.require_peer`).
* ``pyrama_cli`` is the argv prefix of the ``pyrama`` command-line tool; ``example(name)`` the
  argv that runs ``examples/<name>.py``.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from itsupport import EXAMPLES, LISTENING, START_TIMEOUT, Peers, Poll, Running, Spawn

from pyrama_testing import free_port


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Factory: ``spawn(argv, env=None, ready=LISTENING)`` -> a started :class:`Running`.

    *ready* is a regex the process must print once it is ready; if it has ``host`` and
    ``port`` groups they become :attr:`Running.host` / :attr:`Running.port`. Pass
    ``ready=None`` to return right after starting. *env* entries are added to the current
    environment; *cwd* defaults to the repository root.
    """
    started: list[Running] = []

    def _spawn(
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        ready: str | None = LISTENING,
        timeout: float = START_TIMEOUT,
        cwd: Path | None = None,
    ) -> Running:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        r = Running(argv, full_env, cwd)
        started.append(r)
        if ready is not None:
            m = r.wait_for(ready, timeout)
            groups = m.groupdict()
            if groups.get("host"):
                r.host = groups["host"]
            if groups.get("port"):
                r.port = int(groups["port"])
        return r

    yield _spawn
    for r in started:
        r.stop()
        print(f"--- output of {' '.join(r.argv)} (exit {r.proc.returncode}) ---")
        print(r.output())


@pytest.fixture
def pyrama_cli() -> list[str]:
    """The argv prefix that runs the ``pyrama`` command-line tool of this environment."""
    beside = Path(sys.executable).parent / "pyrama"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "pyrama"]


@pytest.fixture
def example() -> Callable[[str], list[str]]:
    """``example("tcp_listener_hello")`` -> argv that runs ``examples/tcp_listener_hello.py``."""

    def _argv(name: str) -> list[str]:
        path = EXAMPLES / f"{name}.py"
        assert path.exists(), f"missing example {path}"
        return [sys.executable, str(path)]

    return _argv


@pytest.fixture
def tcp_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()


@pytest.fixture
def udp_port() -> int:
    """A free UDP port on 127.0.0.1."""
    return free_port(socket.SOCK_DGRAM)


@pytest.fixture
def peers() -> Peers:
    """The third-party client helpers."""
    return Peers()


@pytest.fixture
def poll() -> Poll:
    """Polling helpers: ``poll.until(cond)``, ``poll.connect_refused(port)``."""
    return Poll()
