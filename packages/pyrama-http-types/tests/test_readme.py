from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_prints_what_it_says(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = README.read_text()
    code = re.search(r"## Example\n\n```python\n(.*?)```", text, re.S)
    shown = re.search(r"\nprints\n\n```text\n(.*?)```", text, re.S)
    assert code is not None
    assert shown is not None
    script = tmp_path / "readme_example.py"
    script.write_text(code.group(1))
    runpy.run_path(str(script), run_name="readme_example")
    assert capsys.readouterr().out == shown.group(1)
