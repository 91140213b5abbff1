"""Run the book's Python examples so the prose cannot drift from the code.

Every fenced block whose info string starts with ``python`` is executed; the blocks of one
page run in order in one namespace and on one event loop, like a notebook, so a later block
can use what an earlier one defined. Top-level ``await`` is allowed. Blocks fenced as ``py``
render the same but are not run (use them for fragments such as protocol signatures).

The ``src/`` directories of the repository's examples (``examples/*/src``, such as the example
extension ``pyrama_x_hello``) are put on ``sys.path`` so the book can show them without
installing them.

Usage: ``python docs/check_examples.py [page.md ...]`` (default: every page under docs/).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
import sys
import textwrap
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`]*)")
HANG_GUARD_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Block:
    """One runnable code block: where it starts and its (dedented) source."""

    page: Path
    line: int
    source: str


def blocks(page: Path) -> list[Block]:
    """The runnable ``python`` blocks of *page*, in order."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m.group("fence"), i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if m.group("info").lower() == "python":
            found.append(Block(page, start + 1, textwrap.dedent("\n".join(body))))
    return found


def run_page(page: Path) -> list[str]:
    """Execute every runnable block of *page*; return failure descriptions."""
    failures: list[str] = []
    # a real module, so that dataclasses, pickling and typing can look the page up
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    loop = asyncio.new_event_loop()
    output = io.StringIO()  # what the examples print (logs, ...): shown only on failure
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            _run_blocks(page, namespace, loop, failures)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        del sys.modules[module.__name__]
    if failures and output.getvalue():
        failures[-1] += f"output of {page.relative_to(DOCS)} so far:\n{output.getvalue()}"
    return failures


def _run_blocks(
    page: Path,
    namespace: dict[str, Any],
    loop: asyncio.AbstractEventLoop,
    failures: list[str],
) -> None:
    """Run the blocks of *page* in *namespace* on *loop*; stop at the first failure."""
    for block in blocks(page):
        where = f"{page.relative_to(DOCS)}:{block.line}"
        try:
            code = compile(block.source, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(code, namespace)  # our own documentation
            if inspect.iscoroutine(result):
                loop.run_until_complete(asyncio.wait_for(result, HANG_GUARD_SECONDS))
        except Exception:
            failures.append(f"{where}\n{traceback.format_exc()}")
            break  # later blocks of the page depend on this one


def main(argv: list[str]) -> int:
    """Run the examples of the given pages (default: all); exit 1 on any failure."""
    sys.path[:0] = [str(p) for p in sorted(DOCS.parent.glob("examples/*/src"))]
    pages = [Path(a).resolve() for a in argv] or sorted(DOCS.rglob("*.md"))
    failures: list[str] = []
    count = 0
    for page in pages:
        count += len(blocks(page))
        failures += run_page(page)
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"docs examples: {count} blocks on {len(pages)} pages, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
