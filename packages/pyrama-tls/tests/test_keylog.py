"""Key logging: SSLKEYLOGFILE / explicit path, 0600, NSS key log lines from both ends."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from tls_support import client_data, connect, read_all, server_data, tls_server

from pyrama_tls import KEYLOG_ENV, TlsStream, TlsVersion
from pyrama_tls._keylog import KeyLogWriter, keylog_path


async def _ping(tls: TlsStream) -> None:
    tls.write(b"ping")
    tls.write_eof()
    assert await read_all(tls) == b"ping"
    await tls.close()


def _labels(path: Path) -> list[str]:
    return [line.split(" ", 1)[0] for line in path.read_text().splitlines()]


async def test_explicit_keylog_file_is_0600_and_holds_tls13_secrets(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    async with tls_server(server_data()) as listener:
        await _ping(await connect(listener, client_data(keylog_file=path)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    labels = _labels(path)
    for label in (
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ):
        assert label in labels
    for line in path.read_text().splitlines():
        label, random_hex, secret_hex = line.split(" ")
        assert len(bytes.fromhex(random_hex)) == 32
        assert len(bytes.fromhex(secret_hex)) >= 32


async def test_tls12_logs_the_master_secret(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    data = server_data(keylog_file=path, max_version=TlsVersion.TLS1_2)
    async with tls_server(data) as listener:
        await _ping(await connect(listener, client_data()))
    assert _labels(path) == ["CLIENT_RANDOM"]


async def test_env_variable_is_honoured_and_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env-keys.log"
    monkeypatch.setenv(KEYLOG_ENV, str(path))
    async with tls_server(server_data(keylog_from_env=True)) as listener:
        await _ping(await connect(listener, client_data()))
        first = len(path.read_text().splitlines())
        assert first >= 4  # the server's lines only: the client does not read the env here
        await _ping(await connect(listener, client_data(keylog_from_env=True)))
    assert len(path.read_text().splitlines()) == first + 2 * first  # both ends, appended


async def test_no_keylog_without_env_or_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEYLOG_ENV, raising=False)
    assert keylog_path(None, from_env=True) is None
    monkeypatch.setenv(KEYLOG_ENV, "")
    assert keylog_path(None, from_env=True) is None
    monkeypatch.setenv(KEYLOG_ENV, str(tmp_path / "x"))
    assert keylog_path(None, from_env=False) is None
    assert keylog_path(tmp_path / "y", from_env=True) == tmp_path / "y"


def test_existing_file_keeps_its_mode_and_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text("# existing\n")
    os.chmod(path, 0o640)
    writer = KeyLogWriter(path)
    writer.write_line(b"CLIENT_RANDOM aa bb")
    assert path.read_text() == "# existing\nCLIENT_RANDOM aa bb\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "keys.log" in repr(writer)


def test_write_errors_are_logged_once_and_never_raise(tmp_path: Path) -> None:
    writer = KeyLogWriter(tmp_path / "missing-dir" / "keys.log")
    with capture_logs() as events:
        writer(None, b"CLIENT_RANDOM aa bb")
        writer(None, b"CLIENT_RANDOM aa bb")
    assert [e["event"] for e in events] == ["tls key log write failed"]
