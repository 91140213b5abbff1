from __future__ import annotations

import re
import runpy
import threading
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_prints_what_it_says(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = README.read_text()
    code = re.search(r"## Example\n\n```python\n(.*?)```", text, re.S)
    shown = re.search(r"\nprints[^\n]*\n\n```text\n(.*?)```", text, re.S)
    assert code is not None
    assert shown is not None
    script = tmp_path / "readme_example.py"
    script.write_text(code.group(1))
    # asyncio.run needs a thread without a running loop (pytest-asyncio may own this one)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runpy.run_path(str(script), run_name="readme_example")
        except BaseException as exc:  # reported below
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert not t.is_alive()
    assert not errors, errors
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "http server listening" not in line]
    assert "\n".join(lines) + "\n" == shown.group(1)
