"""Watching the zero-copy relay: count ``os.splice`` calls, and run splice tests on Linux."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from pyrama_testing._peers import in_ci

__all__ = ["SpliceCounter", "count_splices", "needs_splice"]

needs_splice = pytest.mark.skipif(
    not (hasattr(os, "splice") and hasattr(os, "pipe2")) and not in_ci(),
    reason="os.splice is Linux-only",
)
"""Mark for tests of the splice relay: skipped where ``os.splice`` does not exist, except
under CI (Linux), where they run and fail if it is missing."""


@dataclass
class SpliceCounter:
    """What the wrapped ``os.splice`` saw: calls and bytes moved (from any thread)."""

    calls: int = 0
    moved: int = 0


def count_splices(monkeypatch: pytest.MonkeyPatch) -> SpliceCounter:
    """Wrap ``os.splice`` for this test with a counter of calls and bytes moved.

    The relay looks ``os.splice`` up on every use, so the wrapper sees every call. A byte
    relayed with splice passes two calls (socket to pipe, pipe to socket): a relay that
    spliced everything shows ``moved == 2 * relayed``.
    """
    counter = SpliceCounter()
    real = os.splice

    def counting(src: int, dst: int, count: int, *args: Any, **kw: Any) -> int:
        n = real(src, dst, count, *args, **kw)
        counter.calls += 1
        counter.moved += n
        return n

    monkeypatch.setattr(os, "splice", counting)
    return counter
