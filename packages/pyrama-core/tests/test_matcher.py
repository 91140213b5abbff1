from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions
from pyrama_core.matcher import (
    Always,
    And,
    BaseMatcher,
    FnMatcher,
    Matcher,
    Never,
    Not,
    Or,
    match_fn,
)


@dataclass(frozen=True)
class Captured:
    name: str


class Capture(BaseMatcher[int]):
    """Matches one value and records that it did in the scratch extensions."""

    def __init__(self, value: int, name: str) -> None:
        self.value = value
        self.name = name

    def matches(self, input: int, extensions: Extensions | None = None, /) -> bool:
        if input != self.value:
            if extensions is not None:
                extensions.insert(Captured(f"miss:{self.name}"))
            return False
        if extensions is not None:
            extensions.insert(Captured(self.name))
        return True


even = match_fn(lambda n: n % 2 == 0)
positive = match_fn(lambda n: n > 0)


def test_match_fn_and_protocol() -> None:
    assert isinstance(even, FnMatcher)
    assert isinstance(even, Matcher)
    assert even.matches(2)
    assert not even.matches(3, None)
    assert "lambda" in repr(even)


def test_always_never() -> None:
    assert Always().matches(object())
    assert not Never().matches(object())
    assert repr(Always()) == "Always()"


def test_and_or_not() -> None:
    assert And(even, positive).matches(4)
    assert not And(even, positive).matches(-4)
    assert Or(even, positive).matches(-4)
    assert Or(even, positive).matches(3)
    assert not Or(even, positive).matches(-3)
    assert Not(even).matches(3)
    empty_and: And[int] = And()
    empty_or: Or[int] = Or()
    assert empty_and.matches(1)  # empty And is vacuously true
    assert not empty_or.matches(1)  # empty Or is false


def test_operator_sugar_flattens() -> None:
    both = even & positive & Always()
    assert isinstance(both, And)
    assert len(both.matchers) == 3
    either = even | positive | Never()
    assert isinstance(either, Or)
    assert len(either.matchers) == 3
    assert (~even).matches(3)
    assert (~~even) is even
    assert isinstance(~even, Not)
    assert "And(" in repr(both)
    assert "Or(" in repr(either)


def test_plain_protocol_matchers_combine_on_either_side() -> None:
    class Big:
        def matches(self, input: int, extensions: Extensions | None = None, /) -> bool:
            return input > 100

    big = Big()
    assert (big & even).matches(102)
    assert not (big & even).matches(101)
    assert (even | big).matches(101)
    assert (big | even).matches(4)
    assert Not(big).matches(5)
    assert (~Not(big)).matches(500)
    with pytest.raises(TypeError):
        And(object())  # type: ignore[arg-type]


def test_short_circuit() -> None:
    seen: list[str] = []

    def spy(name: str, result: bool) -> FnMatcher[int]:
        def pred(_: int) -> bool:
            seen.append(name)
            return result

        return match_fn(pred)

    assert not (spy("a", False) & spy("b", True)).matches(0)
    assert seen == ["a"]
    seen.clear()
    assert (spy("a", True) | spy("b", True)).matches(0)
    assert seen == ["a"]


def test_match_fn_with_extensions_argument() -> None:
    def capture(n: int, ext: Extensions | None) -> bool:
        if ext is not None:
            ext.insert(Captured(f"n={n}"))
        return True

    m = match_fn(capture)
    ext = Extensions()
    assert m.matches(7, ext)
    assert ext.get(Captured) == Captured("n=7")
    assert m.matches(7)  # no extensions: fine too


def test_and_merges_captures_only_on_success() -> None:
    ext = Extensions()
    assert not (Capture(1, "a") & Capture(2, "b")).matches(1, ext)
    assert Captured not in ext
    assert (Capture(1, "a") & match_fn(lambda n: True)).matches(1, ext)
    assert ext.get(Captured) == Captured("a")


def test_or_keeps_only_the_winning_branch_captures() -> None:
    ext = Extensions()
    assert (Capture(1, "first") | Capture(2, "second")).matches(2, ext)
    assert ext.get(Captured) == Captured("second")  # not "miss:first"
    ext2 = Extensions()
    assert not (Capture(1, "a") | Capture(2, "b")).matches(3, ext2)
    assert len(ext2) == 0


def test_not_discards_inner_captures() -> None:
    ext = Extensions()
    assert (~Capture(1, "one")).matches(2, ext)
    assert len(ext) == 0


def test_nested_captures_land_in_a_forked_request_map() -> None:
    parent = Extensions()
    parent.insert("connection-level")
    child = parent.fork()
    m = (Capture(5, "x") | Capture(6, "y")) & ~Capture(7, "z")
    assert m.matches(6, child)
    assert child.get(Captured) == Captured("y")
    assert parent.get(Captured) is None


@given(st.integers(), st.lists(st.sampled_from(["even", "pos", "always", "never"]), max_size=5))
def test_combinators_agree_with_python_logic(n: int, names: list[str]) -> None:
    table: dict[str, BaseMatcher[int]] = {
        "even": even,
        "pos": positive,
        "always": Always(),
        "never": Never(),
    }
    ms = [table[x] for x in names]
    results = [m.matches(n) for m in ms]
    assert And(*ms).matches(n) == all(results)
    assert Or(*ms).matches(n) == any(results)
    assert And(*ms).matches(n, Extensions()) == all(results)
    assert Or(*ms).matches(n, Extensions()) == any(results)
    for m, r in zip(ms, results, strict=True):
        assert (~m).matches(n) == (not r)
