"""The example extension (examples/extension, pyrama-x-hello): its layer, and a real install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pyrama_core import layers, service_fn
from pyrama_testing import mock_stream_pair, require_peer

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "extension"


@pytest.fixture
def hello(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    import pyrama_x_hello

    return pyrama_x_hello


async def test_hello_layer_greets_then_runs_inner(hello: object) -> None:
    from pyrama_x_hello import HelloLayer

    seen: list[bytes] = []

    async def inner(stream: object) -> str:
        seen.append(b"inner ran")
        return "done"

    svc = layers(HelloLayer(b"hi!\n")).into(service_fn(inner))
    client, server = mock_stream_pair()
    assert await svc.serve(server) == "done"
    assert await client.read() == b"hi!\n"
    assert seen == [b"inner ran"]


def test_hello_layer_rejects_empty_greeting(hello: object) -> None:
    from pyrama_x_hello import HelloLayer

    with pytest.raises(ValueError, match="empty"):
        HelloLayer(b"")


def _uv(uv: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [uv, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.mark.timeout(600)
def test_installed_extension_is_listed_by_the_cli(tmp_path: Path) -> None:
    uv = require_peer("uv")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    venv = tmp_path / "venv"
    proc = _uv(uv, "venv", "--quiet", "--python", "3.11", str(venv), env=env)
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    sources = [
        str(REPO / "packages" / "pyrama-core"),
        str(REPO / "packages" / "pyrama"),
        str(EXAMPLE),
    ]
    # offline first (uv's cache normally holds hatchling and the third-party deps)
    proc = _uv(uv, "pip", "install", "--offline", "--python", str(python), *sources, env=env)
    if proc.returncode != 0:
        proc = _uv(uv, "pip", "install", "--python", str(python), *sources, env=env)
    assert proc.returncode == 0, proc.stderr

    pyrama_cmd = str(venv / "bin" / "pyrama")
    listed = subprocess.run(
        [pyrama_cmd, "extensions"], capture_output=True, text=True, timeout=60, check=False
    )
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0][:4] == ["NAME", "DISTRIBUTION", "VERSION", "TARGET"]
    assert ["hello", "pyrama-x-hello", "0.1.0", "pyrama_x_hello"] in [r[:4] for r in rows]

    version = subprocess.run(
        [pyrama_cmd, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert version.returncode == 0, version.stderr
    lines = version.stdout.splitlines()
    assert lines[0] == "pyrama 0.1.0"
    assert "pyrama-core 0.1.0" in lines
    assert "pyrama-x-hello 0.1.0 (extension)" in lines
    # only core was installed: no other family member may be claimed
    assert not any(line.startswith(("pyrama-tcp", "pyrama-net")) for line in lines)

    loaded = subprocess.run(
        [
            str(python),
            "-c",
            "import pyrama; m = pyrama.load_extension('hello'); print(m.HelloLayer.__name__);"
            "print(m.DESCRIPTION)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[0] == "HelloLayer"

    # the servers need the transports, and say how to get them
    serve = subprocess.run(
        [pyrama_cmd, "serve", "echo", "--bind", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert serve.returncode == 1
    assert "pip install pyrama-net" in serve.stderr
    assert 'pip install "pyrama[cli]"' in serve.stderr

    # and a missing family member says how to get it
    missing = subprocess.run(
        [str(python), "-c", "import pyrama; pyrama.tcp"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert "pip install pyrama-tcp" in missing.stderr
    assert 'pip install "pyrama[tcp]"' in missing.stderr
