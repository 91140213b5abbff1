"""Supply-chain checks for the pyrama workspace (run by ``nox -s supply_chain``).

Runs inside an environment synced from ``uv.lock`` (all members, all extras, dev tools) and
checks, in order:

1. ``uv lock --check``: the lock matches every ``pyproject.toml``.
2. Sources and hashes in ``uv.lock``: third-party packages come from PyPI only and every
   artefact carries a hash; workspace members are local editables under ``packages/``.
3. ``supply-chain/requirements/*.txt`` equal a fresh ``uv export`` (one file per published
   distribution, plus ``_workspace.txt`` for the whole CI toolchain).
4. Every direct third-party dependency of a published distribution has a review file in
   ``supply-chain/audits/<name>.md``.
5. The licence of every installed third-party distribution is in POLICY.md's allowed list (or
   in its table of known exceptions).
6. ``pip-audit`` on every exported file; see POLICY.md "Vulnerability audit" for what happens
   when the vulnerability service cannot be reached.

``--refresh`` rewrites the requirement files from the lock instead of comparing them;
``--skip-audit`` skips step 6 (offline work; never in CI).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import ROOT, Distribution, discover, normalize

HERE = ROOT / "supply-chain"
POLICY = HERE / "POLICY.md"
REQUIREMENTS = HERE / "requirements"
AUDITS = HERE / "audits"
WORKSPACE_EXPORT = "_workspace"
PYPI = "https://pypi.org/simple"
REFRESH = "nox -s supply_chain -- --refresh"
REQUIRE_AUDIT_ENV = "PYRAMA_REQUIRE_AUDIT"


# --- reporting ----------------------------------------------------------------------------


@dataclass
class Report:
    """Problems fail the run; warnings are printed and do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        """Record a failure."""
        self.problems.append(message)
        print(f"  FAIL  {message}")

    def warn(self, message: str) -> None:
        """Record a warning."""
        self.warnings.append(message)
        print(f"  WARN  {message}")

    @staticmethod
    def ok(message: str) -> None:
        """Print a passing fact."""
        print(f"  ok    {message}")


def section(title: str) -> None:
    """Print a section header."""
    print(f"\n== {title}")


def uv(*args: str) -> subprocess.CompletedProcess[str]:
    """Run uv in the repository root, capturing its output."""
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    return subprocess.run(
        ["uv", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


# --- 1. lock ------------------------------------------------------------------------------


def check_lock(report: Report) -> None:
    """``uv lock --check``: the committed lock is what the pyproject files ask for."""
    section("lock is fresh (uv lock --check)")
    res = uv("lock", "--check")
    if res.returncode == 0:
        report.ok("uv.lock matches every pyproject.toml")
    else:
        detail = (res.stderr or res.stdout).strip()
        report.problem(f"uv.lock is stale; run `uv lock` and commit it\n{detail}")


# --- 2. sources and hashes ----------------------------------------------------------------


def check_sources(report: Report, dists: list[Distribution]) -> None:
    """Third-party packages from PyPI only, every artefact hashed; members local."""
    section("sources and hashes in uv.lock")
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    members = {d.name: d.path.relative_to(ROOT).as_posix() for d in dists}
    registry = 0
    for pkg in lock.get("package", []):
        name, source = pkg["name"], pkg.get("source", {})
        if "registry" in source:
            registry += 1
            if source["registry"] != PYPI:
                report.problem(f"{name}: from {source['registry']}, only {PYPI} is allowed")
            artefacts = [*pkg.get("wheels", []), *([pkg["sdist"]] if "sdist" in pkg else [])]
            if not artefacts:
                report.problem(f"{name}: no artefacts recorded in the lock")
            for art in artefacts:
                if not str(art.get("hash", "")).startswith("sha256:"):
                    report.problem(f"{name}: artefact {art.get('url')} has no sha256 hash")
        elif "editable" in source or "directory" in source:
            path = source.get("editable") or source.get("directory")
            if members.get(name) != path:
                report.problem(f"{name}: local source {path!r} is not a workspace member")
        elif "virtual" in source and source["virtual"] == ".":
            continue  # the virtual workspace root
        else:
            report.problem(f"{name}: source {source} is not allowed (PyPI or workspace only)")
    report.ok(f"{registry} third-party packages, all from {PYPI} with sha256 hashes")


# --- 3. exported requirement files --------------------------------------------------------


def export_targets(dists: list[Distribution]) -> dict[str, list[str]]:
    """Requirement-file stem -> the ``uv export`` arguments that produce it."""
    common = ["export", "--frozen", "--all-extras", "--no-emit-workspace", "--no-header"]
    common += ["--format", "requirements-txt"]
    targets = {
        d.name: [*common, "--package", d.name, "--no-dev"] for d in dists if not d.workspace_only
    }
    targets[WORKSPACE_EXPORT] = [*common, "--all-packages"]
    return targets


def render(stem: str, args: list[str], body: str) -> str:
    """The committed file: a stable header (independent of uv's) and uv's export."""
    what = (
        "the whole workspace: every member, all extras, the dev tools (what CI installs)"
        if stem == WORKSPACE_EXPORT
        else f"{stem}: its runtime dependencies with all extras, no dev tools"
    )
    header = (
        f"# Exported from uv.lock for {what}.\n"
        f"# Do not edit. Refresh with: {REFRESH}\n"
        f"#   (runs: uv {' '.join(args)})\n"
    )
    return header + body


def entries(text: str) -> set[tuple[str, frozenset[str]]]:
    """Parse a hashed requirements file into ``{(requirement, hashes)}`` ignoring comments."""
    joined = re.sub(r"\\\n", " ", text)
    found: set[tuple[str, frozenset[str]]] = set()
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = frozenset(re.findall(r"--hash=(\S+)", line))
        req = re.sub(r"\s*--hash=\S+", "", line).strip()
        found.add((re.sub(r"\s+", " ", req), hashes))
    return found


def check_exports(report: Report, dists: list[Distribution], refresh: bool) -> None:
    """Compare (or with *refresh*, rewrite) ``supply-chain/requirements/*.txt``."""
    section("exported requirement files" + (" (refresh)" if refresh else ""))
    targets = export_targets(dists)
    REQUIREMENTS.mkdir(exist_ok=True)
    for stem, args in sorted(targets.items()):
        res = uv(*args)
        if res.returncode != 0:
            report.problem(f"uv {' '.join(args)} failed:\n{res.stderr.strip()}")
            continue
        path = REQUIREMENTS / f"{stem}.txt"
        fresh = render(stem, args, res.stdout)
        for req, hashes in entries(fresh):
            if not hashes:
                report.problem(f"{path.name}: {req} has no --hash")
        if refresh:
            if not path.is_file() or path.read_text(encoding="utf-8") != fresh:
                path.write_text(fresh, encoding="utf-8")
                report.ok(f"wrote {path.relative_to(ROOT)}")
            continue
        if not path.is_file():
            report.problem(f"{path.relative_to(ROOT)} is missing; run: {REFRESH}")
        elif entries(path.read_text(encoding="utf-8")) != entries(fresh):
            old, new = entries(path.read_text(encoding="utf-8")), entries(fresh)
            gone = sorted(r for r, _ in old - new)
            came = sorted(r for r, _ in new - old)
            report.problem(
                f"{path.relative_to(ROOT)} is stale (removed: {gone}, added: {came}); "
                f"run: {REFRESH}"
            )
        else:
            report.ok(f"{path.relative_to(ROOT)} matches the lock ({len(entries(fresh))} pins)")
    for path in sorted(REQUIREMENTS.glob("*.txt")):
        if path.stem not in targets:
            if refresh:
                path.unlink()
                report.ok(f"removed {path.relative_to(ROOT)} (no such distribution)")
            else:
                report.problem(f"{path.relative_to(ROOT)} has no distribution; run: {REFRESH}")


# --- 4. review files for direct dependencies ----------------------------------------------


def direct_third_party(dists: list[Distribution]) -> dict[str, set[str]]:
    """Third-party name -> published distributions that declare it directly (extras too)."""
    members = {d.name for d in dists}
    users: dict[str, set[str]] = {}
    for dist in dists:
        if dist.workspace_only:
            continue
        for req in dist.all_requirements():
            name = normalize(req.name)
            if name not in members:
                users.setdefault(name, set()).add(dist.name)
    return users


def check_audit_files(report: Report, dists: list[Distribution]) -> None:
    """Every direct runtime dependency of a published distribution has a review file."""
    section("reviews of direct dependencies (supply-chain/audits/)")
    users = direct_third_party(dists)
    for name, who in sorted(users.items()):
        path = AUDITS / f"{name}.md"
        if path.is_file():
            report.ok(f"{name} (used by {', '.join(sorted(who))}): {path.relative_to(ROOT)}")
        else:
            report.problem(
                f"{name} is a direct dependency of {', '.join(sorted(who))} but "
                f"{path.relative_to(ROOT)} does not exist (see POLICY.md, 'Adding a dependency')"
            )
    for path in sorted(AUDITS.glob("*.md")):
        if path.stem not in users:
            report.warn(f"{path.relative_to(ROOT)}: no published distribution uses it any more")


# --- 5. licences --------------------------------------------------------------------------

_ALIASES = {
    "mit": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit licence": "MIT",
    "expat": "MIT",
    "bsd": "BSD-2-Clause OR BSD-3-Clause",
    "bsd license": "BSD-2-Clause OR BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "2-clause bsd": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "asl 2": "Apache-2.0",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "iscl": "ISC",
    "psf": "PSF-2.0",
    "psfl": "PSF-2.0",
    "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "mpl 2.0": "MPL-2.0",
    "mozilla public license 2.0": "MPL-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "the unlicense": "Unlicense",
    "the unlicense (unlicense)": "Unlicense",
}
_UNKNOWN = {"", "unknown", "none", "license", "other/proprietary license", "dual license"}


def policy_allowed() -> set[str]:
    """The SPDX ids in POLICY.md's "Allowed licences" list (first code span of each bullet)."""
    text = POLICY.read_text(encoding="utf-8")
    block = re.search(r"^## Allowed licences\n(.*?)^## ", text, re.S | re.M)
    if not block:
        raise SystemExit("POLICY.md has no '## Allowed licences' section")
    return set(re.findall(r"^- `([^`]+)`", block.group(1), re.M))


def policy_exceptions() -> dict[str, tuple[str, str]]:
    """POLICY.md's "Known exceptions" table: distribution -> (licence, reason)."""
    text = POLICY.read_text(encoding="utf-8")
    block = re.search(r"^## Known exceptions\n(.*?)(?:^## |\Z)", text, re.S | re.M)
    if not block:
        raise SystemExit("POLICY.md has no '## Known exceptions' section")
    found: dict[str, tuple[str, str]] = {}
    for line in block.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.lstrip().startswith("|") or set(cells[0]) <= {"-", " "}:
            continue
        if cells[0].lower() in {"distribution", ""}:
            continue
        found[normalize(cells[0].strip("`"))] = (cells[1], cells[2])
    return found


def _tokens(expr: str) -> Iterator[str]:
    yield from re.findall(r"\(|\)|[^\s()]+", expr)


class _Expr:
    """A tiny SPDX expression evaluator: OR (any), AND (all), WITH (base licence decides)."""

    def __init__(self, expr: str, allowed: set[str]) -> None:
        self.toks = list(_tokens(expr))
        self.pos = 0
        self.allowed = {a.lower() for a in allowed}

    def _peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def _next(self) -> str:
        tok = self._peek()
        if tok is None:
            raise ValueError("unexpected end of licence expression")
        self.pos += 1
        return tok

    def evaluate(self) -> bool:
        value = self._or()
        if self._peek() is not None:
            raise ValueError(f"unexpected {self._peek()!r} in licence expression")
        return value

    def _or(self) -> bool:
        value = self._and()
        while (self._peek() or "").upper() == "OR":
            self._next()
            value = self._and() or value
        return value

    def _and(self) -> bool:
        value = self._atom()
        while (self._peek() or "").upper() == "AND":
            self._next()
            value = self._atom() and value
        return value

    def _atom(self) -> bool:
        tok = self._next()
        if tok == "(":
            value = self._or()
            if self._next() != ")":
                raise ValueError("unbalanced parentheses in licence expression")
            return value
        if tok in {")", "AND", "OR", "WITH"}:
            raise ValueError(f"unexpected {tok!r} in licence expression")
        if (self._peek() or "").upper() == "WITH":
            self._next()
            self._next()  # an exception only adds permissions; the base licence decides
        return tok.rstrip("+").lower() in self.allowed


def spdx_allowed(expr: str, allowed: set[str]) -> bool:
    """Whether the SPDX expression *expr* is satisfiable with licences from *allowed*."""
    return _Expr(expr, allowed).evaluate()


def _as_expression(text: str) -> str | None:
    """Map a free-text licence (field or classifier) to an SPDX expression, if recognised."""
    text = text.strip()
    alias = _ALIASES.get(text.lower())
    if alias:
        return alias
    if not re.fullmatch(r"[A-Za-z0-9.+\-() ]+", text) or len(text) > 80:
        return None
    try:  # does it parse as an SPDX id or expression ("MIT", "MIT OR Apache-2.0")?
        spdx_allowed(text, set())
    except ValueError:
        return None
    return text


def licence_of(dist: importlib.metadata.Distribution) -> tuple[str, str] | None:
    """``(spdx_expression, source)`` for an installed distribution, or None if undeclared."""
    meta = dist.metadata
    expression = meta["License-Expression"]
    if expression:
        return expression.strip(), "License-Expression"
    field_text = (meta["License"] or "").strip()
    if field_text.lower() not in _UNKNOWN and "\n" not in field_text:
        expr = _as_expression(field_text)
        if expr:
            return expr, "License"
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.strip() != "License :: OSI Approved"
    ]
    mapped = [_as_expression(c) for c in classifiers]
    if mapped and all(mapped):
        return " AND ".join(f"({m})" for m in mapped if m), "classifiers"
    return None


def check_licences(report: Report, dists: list[Distribution]) -> None:
    """Every installed third-party distribution is under an allowed licence (or excepted)."""
    section("licences of installed third-party distributions")
    allowed = policy_allowed()
    exceptions = policy_exceptions()
    members = {d.name for d in dists} | {"pyrama-workspace"}
    used_exceptions: set[str] = set()
    count = 0
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"]):
        name = normalize(dist.metadata["Name"])
        if name in members:
            continue
        count += 1
        found = licence_of(dist)
        try:
            ok = found is not None and spdx_allowed(found[0], allowed)
        except ValueError:
            ok = False
        if ok:
            continue
        if found:
            shown = f"{found[0]} (from {found[1]})"
        else:
            raw = (dist.metadata["License"] or "").strip().splitlines()[:1]
            classifiers = [c for c in dist.metadata.get_all("Classifier") or [] if "License" in c]
            shown = f"unrecognised licence (License: {raw}, classifiers: {classifiers})"
        if name in exceptions:
            used_exceptions.add(name)
            report.ok(f"{name}: {shown}: known exception: {exceptions[name][1]}")
        else:
            report.problem(
                f"{name} {dist.version}: {shown} is not in POLICY.md's allowed licences "
                "(review it, then add it to 'Known exceptions' with a reason, or drop it)"
            )
    for name in sorted(exceptions.keys() - used_exceptions):
        report.warn(f"POLICY.md exception for {name} is unused (not installed or now allowed)")
    report.ok(f"{count} third-party distributions checked against {sorted(allowed)}")


# --- 6. vulnerabilities -------------------------------------------------------------------


def pinned(path: Path) -> dict[str, str]:
    """Name -> pinned version of a hashed requirements file."""
    pins: dict[str, str] = {}
    for req, _ in entries(path.read_text(encoding="utf-8")):
        m = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;]+)", req)
        if m:
            pins[normalize(m.group(1))] = m.group(2)
    return pins


def _get_json(url: str) -> object | None:
    """GET a PyPI JSON document; None on 404 or any network failure."""
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            doc: object = json.load(resp)
            return doc
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _run_pip_audit(path: Path) -> tuple[dict[str, list[str]], set[str], str | None]:
    """Vulns by name, names pip-audit skipped, and an error message if it failed outright."""
    cmd = [sys.executable, "-m", "pip_audit", "-r", str(path), "--require-hashes"]
    cmd += ["--disable-pip", "--format", "json", "--progress-spinner", "off"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        data = json.loads(res.stdout)
    except ValueError:
        return {}, set(pinned(path)), (res.stderr or res.stdout).strip()[-2000:]
    vulns: dict[str, list[str]] = {}
    skipped: set[str] = set()
    for dep in data.get("dependencies", []):
        name = normalize(dep["name"])
        if "skip_reason" in dep:
            skipped.add(name)
        for vuln in dep.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            vulns.setdefault(name, []).append(f"{vuln['id']} (fixed in: {fixed})")
    return vulns, skipped, None


def _fallback_audit(
    names: Iterable[tuple[str, str]],
) -> tuple[set[tuple[str, str]], dict[str, list[str]]]:
    """Audit pins equal to the latest release with PyPI's project JSON ``vulnerabilities``."""
    audited: set[tuple[str, str]] = set()
    vulns: dict[str, list[str]] = {}
    pins = sorted(names)
    with ThreadPoolExecutor(max_workers=8) as pool:
        docs = pool.map(lambda nv: _get_json(f"https://pypi.org/pypi/{nv[0]}/json"), pins)
    for (name, version), doc in zip(pins, docs, strict=True):
        if not isinstance(doc, dict) or doc.get("info", {}).get("version") != version:
            continue
        audited.add((name, version))
        for vuln in doc.get("vulnerabilities") or []:
            if vuln.get("withdrawn"):
                continue
            fixed = ", ".join(vuln.get("fixed_in") or []) or "no fix yet"
            vulns.setdefault(name, []).append(f"{vuln.get('id')} (fixed in: {fixed})")
    return audited, vulns


def check_vulnerabilities(report: Report) -> None:
    """pip-audit on every exported file; a fallback and a clear verdict when it cannot run."""
    section("known vulnerabilities (pip-audit, PyPI advisory data)")
    unaudited: set[tuple[str, str]] = set()
    total: set[tuple[str, str]] = set()
    paths = sorted(REQUIREMENTS.glob("*.txt"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_run_pip_audit, paths))
    for path, (vulns, skipped, error) in zip(paths, results, strict=True):
        pins = pinned(path)
        total |= set(pins.items())
        if error:
            report.warn(f"pip-audit could not run on {path.name}: {error}")
        for name, ids in sorted(vulns.items()):
            report.problem(f"{name} {pins.get(name, '?')} ({path.name}): {'; '.join(ids)}")
        unaudited |= {(n, pins[n]) for n in skipped if n in pins}
    if not unaudited:
        report.ok(f"{len(total)} pinned packages audited by pip-audit")
        return

    # pip-audit asks https://pypi.org/pypi/<name>/<version>/json. Where that answers 404 for
    # a version the lock proves exists, the service is not reachable from here.
    name, version = sorted(unaudited)[0]
    service_up = _get_json(f"https://pypi.org/pypi/{name}/{version}/json") is not None
    if service_up:
        for n, v in sorted(unaudited):
            report.problem(f"pip-audit skipped {n} {v} although PyPI's JSON API answers")
        return
    audited, vulns = _fallback_audit(unaudited)
    for n, ids in sorted(vulns.items()):
        report.problem(f"{n}: {'; '.join(ids)} (PyPI project JSON)")
    left = sorted(unaudited - audited)
    message = (
        f"VULNERABILITY AUDIT INCOMPLETE: pip-audit could not audit {len(unaudited)} of "
        f"{len(total)} pins because PyPI's per-release JSON API "
        f"(https://pypi.org/pypi/<name>/<version>/json) is not reachable from this network. "
        f"Fallback: {len(audited)} pins equal the latest release and were checked against "
        f"PyPI's project JSON; {len(left)} remain unaudited: "
        + ", ".join(f"{n}=={v}" for n, v in left)
    )
    if os.environ.get(REQUIRE_AUDIT_ENV) == "1":
        report.problem(message + f" ({REQUIRE_AUDIT_ENV}=1 makes this fatal)")
    elif left:
        report.warn(message + f" (set {REQUIRE_AUDIT_ENV}=1 to make this fatal)")
    else:
        report.warn(message)


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run every check; exit 1 if any problem was found."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", action="store_true", help="rewrite requirements/*.txt")
    parser.add_argument("--skip-audit", action="store_true", help="skip pip-audit (offline)")
    args = parser.parse_args(argv)

    dists = discover(ROOT)
    report = Report()
    check_lock(report)
    check_sources(report, dists)
    check_exports(report, dists, refresh=args.refresh)
    check_audit_files(report, dists)
    check_licences(report, dists)
    if args.skip_audit:
        section("known vulnerabilities")
        report.warn("skipped (--skip-audit)")
    else:
        check_vulnerabilities(report)

    section("summary")
    print(f"  {len(report.problems)} problem(s), {len(report.warnings)} warning(s)")
    for problem in report.problems:
        print(f"  FAIL  {problem.splitlines()[0]}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
