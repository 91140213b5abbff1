from __future__ import annotations

import json
import re
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrama_core.telemetry._logging import _teardown_logging

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    yield
    _teardown_logging()


@pytest.mark.usefixtures("_restore_logging")
def test_readme_example_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    match = re.search(r"## Example\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert match is not None
    script = tmp_path / "readme_example.py"
    script.write_text(match.group(1))
    runpy.run_path(str(script), run_name="readme_example")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [e["event"] for e in lines] == ["served", "stopped"]
    assert lines[0]["reply"] == "hello, ada"
    assert lines[1]["finished"] == 1
    assert lines[1]["cancelled"] == 0
