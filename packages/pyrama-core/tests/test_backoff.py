from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import ExponentialBackoff
from pyrama_core.errors import ConfigError


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_no_jitter_grows_and_caps() -> None:
    b = ExponentialBackoff(0.1, 1.0, 2.0, jitter="none")
    delays = [b.next_delay() for _ in range(7)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert b.attempts == 7


def test_full_jitter_is_deterministic_with_injected_rng() -> None:
    a = ExponentialBackoff(1.0, 8.0, jitter="full", rng=random.Random(42))
    b = ExponentialBackoff(1.0, 8.0, jitter="full", rng=random.Random(42))
    seq_a = [a.next_delay() for _ in range(6)]
    seq_b = [b.next_delay() for _ in range(6)]
    assert seq_a == seq_b
    bases = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for delay, base in zip(seq_a, bases, strict=True):
        assert delay is not None
        assert 0.0 <= delay <= base


def test_equal_jitter_stays_in_upper_half() -> None:
    b = ExponentialBackoff(2.0, 16.0, jitter="equal", rng=random.Random(1))
    for base in (2.0, 4.0, 8.0, 16.0, 16.0):
        delay = b.next_delay()
        assert delay is not None
        assert base / 2 <= delay <= base


def test_max_attempts_and_reset() -> None:
    b = ExponentialBackoff(0.5, 10.0, jitter="none", max_attempts=2)
    assert b.next_delay() == 0.5
    assert b.next_delay() == 1.0
    assert b.exhausted
    assert b.next_delay() is None
    b.reset()
    assert b.attempts == 0
    assert b.next_delay() == 0.5


async def test_next_backoff_sleeps_and_reports_exhaustion() -> None:
    sleeps = Sleeps()
    b = ExponentialBackoff(0.1, 1.0, jitter="none", max_attempts=3, sleep=sleeps)
    assert [await b.next_backoff() for _ in range(4)] == [True, True, True, False]
    assert sleeps.calls == pytest.approx([0.1, 0.2, 0.4])


async def test_clone_is_fresh_with_same_settings() -> None:
    sleeps = Sleeps()
    b = ExponentialBackoff(0.1, 1.0, 3.0, jitter="none", max_attempts=5, sleep=sleeps)
    b.next_delay()
    b.next_delay()
    c = b.clone()
    assert c.attempts == 0
    assert c.next_delay() == pytest.approx(0.1)
    assert c.next_delay() == pytest.approx(0.3)
    await c.next_backoff()
    assert sleeps.calls == pytest.approx([0.9])
    assert "ExponentialBackoff" in repr(c)


def test_huge_attempt_counts_do_not_overflow() -> None:
    b = ExponentialBackoff(0.001, 60.0, 10.0, jitter="none")
    for _ in range(5000):
        delay = b.next_delay()
    assert delay == 60.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"initial": -1},
        {"initial": 2, "max": 1},
        {"multiplier": 0.5},
        {"jitter": "some"},
        {"max_attempts": -1},
        {"initial": float("nan")},
    ],
)
def test_invalid_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ExponentialBackoff(**kwargs)  # type: ignore[arg-type]


@given(
    initial=st.floats(min_value=1e-6, max_value=10),
    factor=st.floats(min_value=1, max_value=1e3),
    multiplier=st.floats(min_value=1, max_value=10),
    jitter=st.sampled_from(["full", "equal", "none"]),
    seed=st.integers(),
    n=st.integers(min_value=1, max_value=60),
)
def test_delays_always_within_bounds(
    initial: float, factor: float, multiplier: float, jitter: str, seed: int, n: int
) -> None:
    cap = initial * factor
    b = ExponentialBackoff(
        initial,
        cap,
        multiplier,
        jitter=jitter,  # type: ignore[arg-type]
        rng=random.Random(seed),
    )
    base = initial
    for _ in range(n):
        delay = b.next_delay()
        assert delay is not None
        assert 0.0 <= delay <= cap
        if jitter == "none":
            assert delay == pytest.approx(base)
        elif jitter == "equal":
            assert delay >= base / 2 - 1e-12
        base = min(cap, base * multiplier)
