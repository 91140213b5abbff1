"""``pyrama --version``, ``pyrama extensions`` and top-level usage."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pyrama.cli import main

FakeDist = Callable[..., Path]


def test_version_lists_every_pyrama_distribution(
    fake_dist: FakeDist, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_dist("pyrama-x-ver", "7.7.7", entry_points={"ver": "json"})
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "pyrama 0.1.0"
    assert "pyrama-core 0.1.0" in lines
    assert "pyrama-x-ver 7.7.7 (extension)" in lines
    assert lines[-1].startswith("(CPython 3.") or lines[-1].startswith("(")


def test_extensions_table(fake_dist: FakeDist, capsys: pytest.CaptureFixture[str]) -> None:
    fake_dist("pyrama-x-tab", "0.4.2", summary="Tabulated", entry_points={"tab": "json:dumps"})
    assert main(["extensions"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "DISTRIBUTION", "VERSION", "TARGET", "SUMMARY"]
    row = next(line for line in out if line.startswith("tab "))
    assert row.split() == ["tab", "pyrama-x-tab", "0.4.2", "json:dumps", "Tabulated"]


def test_extensions_json_and_load(fake_dist: FakeDist, capsys: pytest.CaptureFixture[str]) -> None:
    fake_dist("pyrama-x-good", "1.0", entry_points={"good": "json"})
    fake_dist(
        "pyrama-x-bad",
        "1.0",
        entry_points={"bad": "pyrama_x_bad"},
        modules={"pyrama_x_bad": "import no_such_module_anywhere\n"},
    )
    assert main(["extensions", "--json"]) == 0
    items = {i["name"]: i for i in json.loads(capsys.readouterr().out)}
    assert items["good"]["distribution"] == "pyrama-x-good"
    assert items["good"]["version"] == "1.0"
    assert items["good"]["target"] == "json"
    assert "error" not in items["good"]

    assert main(["extensions", "--json", "--load"]) == 1
    captured = capsys.readouterr()
    items = {i["name"]: i for i in json.loads(captured.out)}
    assert items["good"]["error"] is None
    assert "no_such_module_anywhere" in items["bad"]["error"]
    assert "pyrama extension 'bad'" in captured.err


def test_extensions_when_none_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("pyrama.cli._extensions.list_extensions", list)
    assert main(["extensions"]) == 0
    assert "no pyrama extensions installed" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "serve" in err
    assert "extensions" in err


def test_serve_without_service_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "echo" in err
    assert "discard" in err


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pyrama", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("pyrama 0.1.0\n")


def test_help_does_not_import_transports() -> None:
    code = (
        "import sys\n"
        "from pyrama.cli import main\n"
        "try:\n    main(['serve', 'echo', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pyrama_net', 'pyrama_tcp', 'pyrama_udp') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "--graceful" in proc.stdout


def test_serve_without_the_transport_names_the_fix() -> None:
    code = (
        "import importlib.abc, sys\n"
        "class Blocker(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.partition('.')[0] == 'pyrama_tcp':\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, Blocker())\n"
        "from pyrama.cli import main\n"
        "raise SystemExit(main(['serve', 'echo', '--bind', '127.0.0.1:0']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert "pip install pyrama-tcp" in proc.stderr
    assert 'pip install "pyrama[cli]"' in proc.stderr
    assert "listening" not in proc.stderr  # nothing was started


@pytest.mark.parametrize(
    "flags",
    [
        ["--timeout", "-1"],
        ["--timeout", "inf"],
        ["--graceful", "nan"],
        ["--graceful", "soon"],
        ["--concurrent", "-1"],
        ["--concurrent", "1.5"],
        ["--mode", "sctp"],
        ["--log-format", "xml"],
    ],
)
def test_bad_serve_flags_are_usage_errors(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "echo", "--bind", "127.0.0.1:0", *flags])
    assert info.value.code == 2
    assert flags[0] in capsys.readouterr().err
