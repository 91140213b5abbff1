"""Key logging: write TLS secrets in the NSS key log format for Wireshark and friends.

Every TLS context built from a config with key logging on gets a ``set_keylog_callback``
that appends OpenSSL's lines (``CLIENT_HANDSHAKE_TRAFFIC_SECRET <random> <secret>`` and so
on) to a file. The file is created with mode ``0600`` (secrets!) and opened in append mode
for each batch, so several processes and connections can share one file, as with browsers'
``SSLKEYLOGFILE``. A file that already exists keeps its permissions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyrama_core.telemetry import get_logger

__all__ = ["KEYLOG_ENV", "KeyLogWriter", "keylog_path"]

KEYLOG_ENV = "SSLKEYLOGFILE"
"""The environment variable browsers, curl and Python's ``ssl`` read for the key log path."""

_log = get_logger(__name__)


def keylog_path(explicit: str | os.PathLike[str] | None, *, from_env: bool) -> Path | None:
    """Which file keys go to: *explicit* when given, else ``$SSLKEYLOGFILE`` if *from_env*.

    An empty environment variable counts as unset.
    """
    if explicit is not None:
        return Path(explicit)
    if from_env:
        env = os.environ.get(KEYLOG_ENV)
        if env:
            return Path(env)
    return None


class KeyLogWriter:
    """A pyOpenSSL key log callback that appends each line to one file.

    Write errors are logged once (as a warning) and never break a handshake.
    """

    __slots__ = ("_failed", "path")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._failed = False

    def write_line(self, line: bytes) -> None:
        """Append *line* (without its newline) to the file."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line + b"\n")
            finally:
                os.close(fd)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                _log.warning("tls key log write failed", path=str(self.path), error=str(exc))

    def __call__(self, conn: Any, line: bytes) -> None:
        """The ``set_keylog_callback`` signature: ``(connection, line)``."""
        self.write_line(line)

    def __repr__(self) -> str:
        return f"KeyLogWriter({str(self.path)!r})"
