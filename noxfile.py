"""Nox sessions for the pyrama workspace.

Every distribution is discovered from ``packages/*/pyproject.toml`` (see
``supply-chain/workspace.py``); nothing here lists packages by hand.

Sessions (``nox -l``):

* ``tests(<dist>)``  the hermetic tests of one distribution (``nox -s tests`` runs them all)
* ``integration``    ``tests-integration/``: real peers over loopback, examples
* ``lint``           ``ruff check`` + ``ruff format --check`` over the repository
* ``typecheck``      one ``mypy --strict`` run over every distribution's ``src/`` and the tooling
* ``wheels``         build every wheel + sdist, install each publishable wheel alone in a fresh
  venv with only its declared dependencies, import everything it ships
* ``docs``           run the book's examples, then ``mkdocs build --strict``
* ``supply_chain``   lock freshness, exported requirement files, sources, licences, audits

Each session venv is filled from the committed ``uv.lock`` with
``uv sync --frozen --all-packages`` (uv hard-links from its cache, so this is fast), so every
session runs the exact locked tool versions. Arguments after ``--`` go to the session's main
tool: ``nox -s "tests(pyrama-core)" -- -k timeout -x``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

import nox
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "supply-chain"))

from workspace import Distribution, discover, normalize, sibling_closure  # noqa: E402

# No managed Python downloads, ever: sessions use the interpreter running nox.
os.environ["UV_PYTHON_DOWNLOADS"] = "never"

nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

DISTS: list[Distribution] = discover(ROOT)
DISTS_BY_NAME = {d.name: d for d in DISTS}
INTEGRATION_DIR = ROOT / "tests-integration"
PYTEST_NO_TESTS = 5


def _uv(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    session.run("uv", *args, external=True, env=env)


def _stdout(session: nox.Session, *cmd: str) -> str:
    """Run *cmd* (logged like session.run) and return its stdout; stderr passes through."""
    session.log(" ".join(cmd))
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False, cwd=ROOT)
    if out.returncode != 0:
        session.error(f"{cmd[0]} failed with exit code {out.returncode}")
    return out.stdout


def sync(session: nox.Session) -> None:
    """Install the locked workspace (all members, all extras, dev tools) into the session venv.

    Skipped by ``nox --no-install`` / ``-R`` (reuse the venv as it is).
    """
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--all-packages",
        "--all-extras",
        "--quiet",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


def _has_test_files(directory: Path) -> bool:
    return directory.is_dir() and any(
        p for pattern in ("test_*.py", "*_test.py") for p in directory.rglob(pattern)
    )


def run_pytest(session: nox.Session, directory: Path) -> None:
    """Run pytest on *directory*; "no tests collected" is fine only while it has no test files."""
    rel = directory.relative_to(ROOT)
    if not directory.is_dir():
        session.warn(f"{rel}/ does not exist: nothing to test")
        return
    has_tests = _has_test_files(directory)
    if not has_tests:
        session.warn(f"{rel}/ has no test_*.py files yet; pytest exit code 5 is accepted")
    session.run(
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        str(rel),
        *session.posargs,
        success_codes=[0] if has_tests else [0, PYTEST_NO_TESTS],
    )


@nox.session(allow_parallel=True)
@nox.parametrize("dist", [d.name for d in DISTS], ids=[d.name for d in DISTS])
def tests(session: nox.Session, dist: str) -> None:
    """Hermetic tests of one distribution (``packages/<dist>/tests``)."""
    sync(session)
    run_pytest(session, DISTS_BY_NAME[dist].tests_dir)


@nox.session(allow_parallel=True)
def integration(session: nox.Session) -> None:
    """Cross-package tests with real third-party peers (``tests-integration/``)."""
    sync(session)
    run_pytest(session, INTEGRATION_DIR)


@nox.session(allow_parallel=True)
def lint(session: nox.Session) -> None:
    """``ruff check`` and ``ruff format --check`` over the whole repository."""
    sync(session)
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")


@nox.session(allow_parallel=True)
def typecheck(session: nox.Session) -> None:
    """One strict mypy run over every distribution's ``src/`` and the workspace tooling.

    Strictness comes from the root ``pyproject.toml``. With ``explicit_package_bases`` each
    ``src/`` is a base (``MYPYPATH``), so module names are ``pyrama_x.*``, not file paths. The
    tooling is ``noxfile.py``, ``supply-chain/`` and ``docs/check_examples.py``.
    """
    sync(session)
    src_dirs = [str(d.src_dir.relative_to(ROOT)) for d in DISTS if d.src_dir.is_dir()]
    tooling = ["noxfile.py", "supply-chain", "docs/check_examples.py"]
    session.run(
        "mypy",
        *src_dirs,
        *tooling,
        *session.posargs,
        env={"MYPYPATH": os.pathsep.join([*src_dirs, "supply-chain"])},
    )


# --- wheels -------------------------------------------------------------------------------

_IMPORT_CHECK = r"""
import importlib, json, pkgutil, sys

venv = sys.argv[1]
result = {"imported": [], "missing": {}, "failed": {}}

def visit(name):
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        result["missing"][name] = f"ModuleNotFoundError: {exc}"
        return
    except Exception as exc:
        result["failed"][name] = f"{type(exc).__name__}: {exc}"
        return
    origin = getattr(mod, "__file__", None) or ""
    if not origin.startswith(venv):
        result["failed"][name] = f"imported from {origin!r}, not from the test venv"
        return
    result["imported"].append(name)
    for info in pkgutil.iter_modules(getattr(mod, "__path__", None) or []):
        if info.name != "__main__":
            visit(f"{name}.{info.name}")

for top in sys.argv[2:]:
    visit(top)
print(json.dumps(result))
"""


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


class ImportReport(NamedTuple):
    imported: list[str]
    missing: dict[str, str]
    failed: dict[str, str]


def _import_everything(session: nox.Session, venv: Path, dist: Distribution) -> ImportReport:
    """Import every module *dist* ships inside *venv* (isolated mode, neutral cwd)."""
    out = subprocess.run(
        [str(_venv_python(venv)), "-I", "-c", _IMPORT_CHECK, str(venv), *dist.import_names],
        cwd=venv,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        session.error(f"{dist.name}: import check crashed:\n{out.stdout}{out.stderr}")
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    return ImportReport(raw["imported"], raw["missing"], raw["failed"])


def _installed(session: nox.Session, venv: Path) -> dict[str, str]:
    python = str(_venv_python(venv))
    out = _stdout(session, "uv", "pip", "list", "--quiet", "--python", python, "--format=json")
    return {normalize(p["name"]): p["version"] for p in json.loads(out)}


def _check_wheel_contents(session: nox.Session, dist: Distribution, wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"{dist.wheel_prefix}.dist-info/METADATA").decode()
    for imp in dist.import_names:
        if f"{imp}/py.typed" not in names:
            session.error(f"{wheel.name}: {imp}/py.typed is missing (the package is typed)")
    if any(n.startswith("tests/") for n in names):
        session.error(f"{wheel.name}: ships a top-level tests/ package")
    for line in metadata.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        pinned = any(spec.operator in ("==", "===") for spec in req.specifier)
        if normalize(req.name) in DISTS_BY_NAME and pinned:
            session.error(f"{wheel.name}: sibling dependency pinned exactly ({req}); use a range")


@nox.session(allow_parallel=True)
def wheels(session: nox.Session) -> None:
    """Build every distribution; install each publishable wheel alone and import all of it.

    Sibling pyrama distributions come only from the wheels just built (URL constraints), third-
    party dependencies from PyPI at their locked versions. A fresh venv per distribution proves
    it declares everything it imports: ``pyrama-core`` must import without ``pyrama-net``.
    Modules that need an extra must import once that extra is installed; console scripts must
    answer ``--version``. ``nox -s wheels -- pyrama-core`` install-checks only the named ones.
    """
    tmp = Path(session.create_tmp()).resolve()
    dist_dir = tmp / "dist"
    shutil.rmtree(dist_dir, ignore_errors=True)
    _uv(session, "build", "--all-packages", "--out-dir", str(dist_dir), "--quiet")

    wheel_of: dict[str, Path] = {}
    for dist in DISTS:
        wheel = dist_dir / f"{dist.wheel_prefix}-py3-none-any.whl"
        sdist = dist_dir / f"{dist.wheel_prefix}.tar.gz"
        for built in (wheel, sdist):
            if not built.is_file():
                session.error(f"{dist.name}: expected {built.name} in {dist_dir}")
        wheel_of[dist.name] = wheel
        _check_wheel_contents(session, dist, wheel)

    # siblings: exactly the wheels built above; third-party: the locked versions
    locked = _stdout(
        session,
        "uv",
        "export",
        "--frozen",
        "--all-packages",
        "--all-extras",
        "--no-dev",
        "--no-emit-workspace",
        "--no-hashes",
        "--no-header",
        "--no-annotate",
        "--format",
        "requirements-txt",
    )
    constraints = tmp / "constraints.txt"
    constraints.write_text(
        "".join(f"{n} @ {w.as_uri()}\n" for n, w in sorted(wheel_of.items())) + locked,
        encoding="utf-8",
    )

    python = _venv_python(Path(session.virtualenv.location))
    only = {normalize(a) for a in session.posargs}
    if unknown := only - DISTS_BY_NAME.keys():
        session.error(f"unknown distributions: {sorted(unknown)}")
    for dist in DISTS:
        if only and dist.name not in only:
            continue
        if dist.workspace_only:
            session.log(f"{dist.name}: workspace-only, built but not install-checked")
            continue
        venv = tmp / "venvs" / dist.name
        _uv(session, "venv", "--clear", "--quiet", "--python", str(python), str(venv))
        target = f"{dist.name} @ {wheel_of[dist.name].as_uri()}"
        install = ["pip", "install", "--quiet", "--python", str(_venv_python(venv))]
        _uv(session, *install, "--constraint", str(constraints), target)

        expected = sibling_closure(dist, DISTS)
        got = {n for n in _installed(session, venv) if n in DISTS_BY_NAME}
        if got != expected:
            session.error(
                f"{dist.name}: installed pyrama distributions {sorted(got)}, "
                f"declared closure is {sorted(expected)}"
            )

        report = _import_everything(session, venv, dist)
        top_missing = {k: v for k, v in report.missing.items() if k in dist.import_names}
        if report.failed or top_missing:
            session.error(f"{dist.name}: import failed alone: {report.failed | top_missing}")
        if report.missing and not dist.extras:
            session.error(f"{dist.name}: undeclared imports (no extra to blame): {report.missing}")
        needs_extra = report.missing

        if dist.extras:
            extras = ",".join(dist.extra_names)
            full = f"{dist.name}[{extras}] @ {wheel_of[dist.name].as_uri()}"
            _uv(session, *install, "--constraint", str(constraints), full)
            report = _import_everything(session, venv, dist)
            if report.failed or report.missing:
                session.error(
                    f"{dist.name}[{extras}]: import failed: {report.failed | report.missing}"
                )
            for mod in needs_extra:
                session.log(f"{dist.name}: {mod} needs an extra (imports once extras are in)")

        for script in dist.scripts:
            out = session.run(str(venv / "bin" / script), "--version", external=True, silent=True)
            if not isinstance(out, str) or dist.version not in out:
                session.error(f"{dist.name}: `{script} --version` printed {out!r}")
        session.log(f"{dist.name}: ok, {len(report.imported)} modules import")


# --- docs and supply chain ----------------------------------------------------------------


@nox.session(allow_parallel=True)
def docs(session: nox.Session) -> None:
    """Run the book's code examples, then build it with ``mkdocs build --strict``."""
    sync(session)
    session.run("python", "docs/check_examples.py")
    # Material prints a banner about its end of life (May 2027) and MkDocs 2.0 on every build
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        *session.posargs,
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session(allow_parallel=True)
def supply_chain(session: nox.Session) -> None:
    """Lock freshness, exported requirement files, sources, licences, audits, pip-audit.

    ``nox -s supply_chain -- --refresh`` rewrites ``supply-chain/requirements/`` from the lock.
    """
    sync(session)
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "supply-chain/tests")
    session.run("python", "supply-chain/check.py", *session.posargs)
