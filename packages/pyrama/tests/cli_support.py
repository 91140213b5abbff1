"""Running ``python -m pyrama serve ...`` as a subprocess and reading its JSON log lines."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

HANG_GUARD = 30.0  # seconds; a hang guard, never a timing assertion


class Server:
    """A running ``pyrama serve`` process; its stderr is parsed as JSON log lines."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "pyrama", "serve", *args, "--log-format", "json"]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.host = ""
        self.port = 0

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.raw.append(line.rstrip("\n"))
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if isinstance(event, dict):
                        self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_event(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = HANG_GUARD
    ) -> dict[str, Any]:
        """Wait for a log event for which *match* is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError("no such log event; output:\n" + "\n".join(self.raw))
                self._cond.wait(min(remaining, 0.2))

    def wait_listening(self) -> Server:
        event = self.wait_event(lambda e: str(e.get("event", "")).startswith("listening"))
        host, _, port = str(event["address"]).rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        return self

    def signal(self, sig: signal.Signals = signal.SIGINT) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = HANG_GUARD) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("did not exit; output:\n" + self.output()) from None
        self._reader.join(5)
        return rc

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.raw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@contextlib.contextmanager
def serving(*args: str, wait: bool = True) -> Iterator[Server]:
    """Start ``pyrama serve *args`` (waiting for its listening line); kill it at the end."""
    server = Server(*args)
    try:
        if wait:
            server.wait_listening()
        yield server
    finally:
        server.stop()
