from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

FakeDist = Callable[..., Path]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDist:
    """Make installed-looking distributions (dist-info + modules) visible on sys.path."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def make(
        name: str,
        version: str,
        *,
        entry_points: dict[str, str] | None = None,
        modules: dict[str, str] | None = None,
        summary: str = "",
    ) -> Path:
        info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        if summary:
            meta += f"Summary: {summary}\n"
        (info / "METADATA").write_text(meta)
        if entry_points:
            lines = ["[pyrama.extensions]"] + [f"{k} = {v}" for k, v in entry_points.items()]
            (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for mod, source in (modules or {}).items():
            (root / f"{mod}.py").write_text(source)
        return info

    return make
