"""Unit tests of supply-chain/workspace.py (package discovery used by nox and check.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import workspace


def _member(root: Path, dirname: str, pyproject: str, imports: tuple[str, ...] = ()) -> None:
    pkg = root / "packages" / dirname
    pkg.mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    for name in imports:
        (pkg / "src" / name).mkdir(parents=True)
        (pkg / "src" / name / "__init__.py").write_text("", encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _member(
        tmp_path,
        "a-core",
        '[project]\nname = "A_Core"\nversion = "0.1.0"\ndependencies = ["structlog>=24"]\n',
        ("a_core",),
    )
    _member(
        tmp_path,
        "a-net",
        '[project]\nname = "a-net"\nversion = "0.2.0"\n'
        'dependencies = ["a-core>=0.1,<0.2", "a-win; sys_platform == \'nonexistent\'"]\n'
        '[project.optional-dependencies]\nfast = ["a-tcp>=0.1"]\n'
        '[project.scripts]\nanet = "a_net:main"\n',
        ("a_net",),
    )
    _member(tmp_path, "a-tcp", '[project]\nname = "a-tcp"\nversion = "0.1.0"\n', ("a_tcp",))
    _member(
        tmp_path,
        "a-win",
        '[project]\nname = "a-win"\nversion = "0.1.0"\n'
        'classifiers = ["Private :: Do Not Upload"]\n',
    )
    _member(
        tmp_path,
        "a-kit",
        '[project]\nname = "a-kit"\nversion = "0.1.0"\n[tool.pyrama]\nworkspace-only = true\n',
    )
    _member(
        tmp_path,
        "a-testing",
        '[project]\nname = "a-testing"\nversion = "0.1.0"\n'
        'description = "Workspace-only test kit."\n',
    )
    return tmp_path


def test_discovers_every_member_sorted_and_normalized(tree: Path) -> None:
    dists = workspace.discover(tree)
    assert [d.name for d in dists] == ["a-core", "a-kit", "a-net", "a-tcp", "a-testing", "a-win"]
    core = dists[0]
    assert core.import_names == ("a_core",)
    assert core.wheel_prefix == "a_core-0.1.0"
    assert core.tests_dir == tree / "packages" / "a-core" / "tests"


def test_workspace_only_markers(tree: Path) -> None:
    only = {d.name for d in workspace.discover(tree) if d.workspace_only}
    # a description alone is not a marker: only the classifier or the tool table count
    assert only == {"a-kit", "a-win"}


def test_extras_and_scripts(tree: Path) -> None:
    net = {d.name: d for d in workspace.discover(tree)}["a-net"]
    assert net.extra_names == ("fast",)
    assert net.scripts == ("anet",)
    assert [r.name for r in net.all_requirements()] == ["a-core", "a-win", "a-tcp"]


def test_sibling_closure_skips_extras_and_false_markers(tree: Path) -> None:
    dists = workspace.discover(tree)
    net = {d.name: d for d in dists}["a-net"]
    assert workspace.sibling_closure(net, dists) == {"a-net", "a-core"}


def test_missing_version_is_an_error(tmp_path: Path) -> None:
    _member(tmp_path, "x", '[project]\nname = "x"\ndynamic = ["version"]\n')
    with pytest.raises(ValueError, match="static"):
        workspace.discover(tmp_path)


def test_real_workspace_is_discovered() -> None:
    names = {d.name for d in workspace.discover()}
    assert {"pyrama", "pyrama-core", "pyrama-net"} <= names
