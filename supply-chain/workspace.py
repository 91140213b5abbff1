"""The distributions of the pyrama workspace, discovered from ``packages/*/pyproject.toml``.

Used by ``noxfile.py`` and ``supply-chain/check.py`` so that neither keeps a hand-written list
of packages: a new directory under ``packages/`` with a ``pyproject.toml`` is picked up by
every session.

A distribution is *workspace-only* (built and tested here, never published) when its
``pyproject.toml`` says so in one of these ways:

1. the trove classifier ``Private :: Do Not Upload`` (PyPI refuses uploads that carry it);
2. ``[tool.pyrama] workspace-only = true``.

Only the standard-library and ``packaging`` are imported (both the nox environment and every
session environment have ``packaging``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

__all__ = [
    "ROOT",
    "WORKSPACE_ONLY_CLASSIFIER",
    "Distribution",
    "discover",
    "normalize",
    "sibling_closure",
]

#: The repository root (this file lives in ``<root>/supply-chain/``).
ROOT = Path(__file__).resolve().parent.parent

#: The classifier that marks a distribution as never-to-be-published.
WORKSPACE_ONLY_CLASSIFIER = "Private :: Do Not Upload"


def normalize(name: str) -> str:
    """PEP 503-normalize a distribution name (``Pyrama_Core`` -> ``pyrama-core``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class Distribution:
    """One workspace member, as its ``pyproject.toml`` declares it."""

    name: str
    """The normalized distribution name (``pyrama-core``)."""
    version: str
    """The static ``project.version``."""
    path: Path
    """The member directory (``<root>/packages/pyrama-core``)."""
    import_names: tuple[str, ...]
    """Top-level import packages found under ``src/`` (``("pyrama_core",)``)."""
    dependencies: tuple[str, ...]
    """``project.dependencies`` as PEP 508 strings."""
    extras: tuple[tuple[str, tuple[str, ...]], ...]
    """``project.optional-dependencies`` as ``(extra, requirements)`` pairs, sorted."""
    scripts: tuple[str, ...]
    """Console-script names from ``project.scripts``."""
    workspace_only: bool
    """Whether this distribution is never published (see the module docstring)."""

    @property
    def src_dir(self) -> Path:
        """The ``src/`` directory holding the import packages."""
        return self.path / "src"

    @property
    def tests_dir(self) -> Path:
        """The per-package hermetic test directory."""
        return self.path / "tests"

    @property
    def wheel_prefix(self) -> str:
        """The file-name prefix of this distribution's wheel and sdist (``pyrama_core-0.1.0``)."""
        return f"{self.name.replace('-', '_')}-{self.version}"

    @property
    def extra_names(self) -> tuple[str, ...]:
        """The names of the optional-dependency extras."""
        return tuple(name for name, _ in self.extras)

    def all_requirements(self) -> list[Requirement]:
        """Parsed base and optional requirements (extras included)."""
        reqs = [Requirement(r) for r in self.dependencies]
        for _, extra_reqs in self.extras:
            reqs.extend(Requirement(r) for r in extra_reqs)
        return reqs


def _import_names(src: Path) -> tuple[str, ...]:
    if not src.is_dir():
        return ()
    return tuple(
        sorted(p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    )


def _workspace_only(project: Mapping[str, object], tool: Mapping[str, object]) -> bool:
    classifiers = project.get("classifiers", [])
    if isinstance(classifiers, list) and WORKSPACE_ONLY_CLASSIFIER in classifiers:
        return True
    pyrama_tool = tool.get("pyrama", {})
    return isinstance(pyrama_tool, dict) and pyrama_tool.get("workspace-only") is True


def _load(pyproject: Path) -> Distribution:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data.get("project")
    if not isinstance(project, dict) or "name" not in project:
        raise ValueError(f"{pyproject}: no [project] name")
    if "version" not in project:
        raise ValueError(f"{pyproject}: project.version must be static")
    optional = project.get("optional-dependencies", {})
    return Distribution(
        name=normalize(project["name"]),
        version=str(project["version"]),
        path=pyproject.parent,
        import_names=_import_names(pyproject.parent / "src"),
        dependencies=tuple(project.get("dependencies", [])),
        extras=tuple(sorted((normalize(k), tuple(v)) for k, v in optional.items())),
        scripts=tuple(sorted(project.get("scripts", {}))),
        workspace_only=_workspace_only(project, data.get("tool", {})),
    )


def discover(root: Path = ROOT) -> list[Distribution]:
    """Every ``packages/*/pyproject.toml`` under *root*, sorted by distribution name."""
    dists = [_load(p) for p in sorted((root / "packages").glob("*/pyproject.toml"))]
    return sorted(dists, key=lambda d: d.name)


def sibling_closure(dist: Distribution, dists: Iterable[Distribution]) -> set[str]:
    """Names of the workspace distributions a plain install of *dist* pulls in (itself too).

    Only base dependencies count (no extras); environment markers are evaluated for the
    running interpreter.
    """
    by_name = {d.name: d for d in dists}
    seen: set[str] = set()
    todo = [dist.name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for raw in by_name[name].dependencies:
            req = Requirement(raw)
            dep = normalize(req.name)
            if dep in by_name and (req.marker is None or req.marker.evaluate({"extra": ""})):
                todo.append(dep)
    return seen
