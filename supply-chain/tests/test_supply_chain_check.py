"""Unit tests of the pure parts of supply-chain/check.py (no network, no uv)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import check
import pytest

ALLOWED = {"MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "ISC", "PSF-2.0", "MPL-2.0"}


@pytest.mark.parametrize(
    ("expr", "ok"),
    [
        ("MIT", True),
        ("mit", True),
        ("GPL-3.0-only", False),
        ("MIT OR GPL-3.0-only", True),
        ("GPL-3.0-only OR MIT", True),
        ("MIT AND GPL-3.0-only", False),
        ("(MIT OR GPL-2.0-only) AND Apache-2.0", True),
        ("(MIT OR GPL-2.0-only) AND LGPL-3.0-only", False),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("GPL-2.0-only WITH Classpath-exception-2.0", False),
        ("LicenseRef-Proprietary", False),
        ("Apache-2.0+", True),
    ],
)
def test_spdx_expressions(expr: str, ok: bool) -> None:
    assert check.spdx_allowed(expr, ALLOWED) is ok


@pytest.mark.parametrize("bad", ["", "MIT OR", "(MIT", "MIT)", "MIT Apache-2.0", "AND MIT"])
def test_malformed_expressions_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="licence expression"):
        check.spdx_allowed(bad, ALLOWED)


def _dist(tmp_path: Path, metadata: str) -> importlib.metadata.Distribution:
    info = tmp_path / "fake-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: fake\nVersion: 1.0\n" + metadata, encoding="utf-8"
    )
    return importlib.metadata.PathDistribution(info)


def test_licence_expression_wins(tmp_path: Path) -> None:
    dist = _dist(
        tmp_path,
        "License-Expression: MIT OR Apache-2.0\nLicense: GPL\n"
        "Classifier: License :: OSI Approved :: GNU General Public License (GPL)\n",
    )
    assert check.licence_of(dist) == ("MIT OR Apache-2.0", "License-Expression")


def test_licence_field_alias(tmp_path: Path) -> None:
    dist = _dist(tmp_path, "License: Apache License, Version 2.0\n")
    assert check.licence_of(dist) == ("Apache-2.0", "License")


def test_unknown_licence_field_falls_back_to_classifiers(tmp_path: Path) -> None:
    dist = _dist(
        tmp_path,
        "License: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n",
    )
    found = check.licence_of(dist)
    assert found is not None
    assert found[1] == "classifiers"
    assert check.spdx_allowed(found[0], ALLOWED)


def test_unparseable_licence_field_falls_back_to_classifiers(tmp_path: Path) -> None:
    dist = _dist(
        tmp_path,
        "License: BSD 3-Clause License\nClassifier: License :: OSI Approved :: BSD License\n",
    )
    found = check.licence_of(dist)
    assert found is not None
    assert found[1] == "classifiers"
    assert check.spdx_allowed(found[0], ALLOWED)


def test_every_classifier_must_pass(tmp_path: Path) -> None:
    dist = _dist(
        tmp_path,
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)\n",
    )
    # the GPL classifier is not recognised, so the licence counts as undeclared
    assert check.licence_of(dist) is None


def test_no_licence_information(tmp_path: Path) -> None:
    assert check.licence_of(_dist(tmp_path, "")) is None


def test_gpl_licence_field_is_reported_not_allowed(tmp_path: Path) -> None:
    found = check.licence_of(_dist(tmp_path, "License: GPL-3.0-or-later\n"))
    assert found == ("GPL-3.0-or-later", "License")
    assert not check.spdx_allowed(found[0], ALLOWED)


POLICY_TEXT = """# policy

## Allowed licences

Allowed:

- `MIT`
- `MPL-2.0`: file-level copyleft.
- not a code span

## Known exceptions

| distribution | licence | reason |
|---|---|---|
| `Some_Pkg` | LGPL-3.0 | only loaded by the optional tool X |

## Next
"""


def test_policy_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "POLICY.md"
    policy.write_text(POLICY_TEXT, encoding="utf-8")
    monkeypatch.setattr(check, "POLICY", policy)
    assert check.policy_allowed() == {"MIT", "MPL-2.0"}
    assert check.policy_exceptions() == {
        "some-pkg": ("LGPL-3.0", "only loaded by the optional tool X")
    }


def test_real_policy_lists_the_agreed_licences() -> None:
    assert check.policy_allowed() == ALLOWED | {"Unlicense"}


EXPORT_A = """# header one
anyio==4.16.0 \\
    --hash=sha256:bbb \\
    --hash=sha256:aaa
    # via httpx
uvloop==0.23.0 ; sys_platform != 'win32' \\
    --hash=sha256:ccc
"""

EXPORT_B = """# a different header, other annotations
anyio==4.16.0 --hash=sha256:aaa --hash=sha256:bbb
uvloop==0.23.0 ; sys_platform != 'win32' --hash=sha256:ccc  # comment
"""


def test_export_entries_ignore_formatting() -> None:
    assert check.entries(EXPORT_A) == check.entries(EXPORT_B)
    assert ("anyio==4.16.0", frozenset({"sha256:aaa", "sha256:bbb"})) in check.entries(EXPORT_A)


def test_export_entries_see_a_changed_hash() -> None:
    assert check.entries(EXPORT_A) != check.entries(EXPORT_A.replace("sha256:ccc", "sha256:ddd"))


def test_pinned_versions(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text(EXPORT_A, encoding="utf-8")
    assert check.pinned(path) == {"anyio": "4.16.0", "uvloop": "0.23.0"}


def test_committed_exports_carry_hashes() -> None:
    files = sorted(check.REQUIREMENTS.glob("*.txt"))
    assert files, "supply-chain/requirements/ is empty"
    for path in files:
        for req, hashes in check.entries(path.read_text(encoding="utf-8")):
            assert hashes, f"{path.name}: {req} has no hash"
