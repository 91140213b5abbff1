"""HeaderMap.from_raw builds its entries lazily: every read and change sees the same map."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_http_types import HeaderMap

NAMES = [b"Host", b"host", b"X-A", b"x-a", b"Accept", b"Content-Type"]
VALUES = [b"1", b"two", b"", b"a b"]
PAIRS = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)), max_size=6)
OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["get", "get_all", "contains", "len", "add", "set", "remove", "clear", "copy", "eq"]
        ),
        st.sampled_from([n.decode() for n in NAMES]),
        st.sampled_from([v.decode() for v in VALUES]),
    ),
    max_size=6,
)


def _apply(h: HeaderMap, op: str, name: str, value: str) -> object:
    if op == "get":
        return h.get(name)
    if op == "get_all":
        return h.get_all(name)
    if op == "contains":
        return name in h
    if op == "len":
        return len(h)
    if op == "add":
        h.add(name, value)
    elif op == "set":
        h.set(name, value)
    elif op == "remove":
        return h.remove(name)
    elif op == "clear":
        h.clear()
    elif op == "copy":
        c = h.copy()
        c.add("x-copy", value)  # the copy is independent of the original
        return c.raw_items()
    elif op == "eq":
        return h == HeaderMap.from_raw(h.raw_items())
    return None


@settings(max_examples=300, deadline=None)
@given(pairs=PAIRS, ops=OPS)
def test_from_raw_behaves_like_an_eager_map(
    pairs: list[tuple[bytes, bytes]], ops: list[tuple[str, str, str]]
) -> None:
    source = list(pairs)
    lazy = HeaderMap.from_raw(source)
    eager = HeaderMap(pairs)
    for op, name, value in ops:
        assert _apply(lazy, op, name, value) == _apply(eager, op, name, value), op
        assert lazy.raw_items() == eager.raw_items()
    assert lazy.raw_items() == eager.raw_items()
    assert lazy.lower_items() == eager.lower_items()
    assert source == pairs  # the list given to from_raw is never modified


def test_raw_items_is_a_fresh_list_before_and_after_reading() -> None:
    source = [(b"A", b"1")]
    h = HeaderMap.from_raw(source)
    items = h.raw_items()
    items.append((b"B", b"2"))
    assert h.raw_items() == [(b"A", b"1")]
    assert h["a"] == "1"
    assert h.raw_items() == [(b"A", b"1")]
    assert source == [(b"A", b"1")]


def test_from_raw_takes_any_iterable_and_copies_and_pickles() -> None:
    h = HeaderMap.from_raw(p for p in [(b"A", b"1"), (b"b", b"2")])
    assert h.raw_items() == [(b"A", b"1"), (b"b", b"2")]
    assert copy.deepcopy(h).raw_items() == h.raw_items()
    assert pickle.loads(pickle.dumps(h)) == h
    assert copy.copy(h) == h


def test_unknown_attributes_still_raise() -> None:
    h = HeaderMap.from_raw([(b"A", b"1")])
    with pytest.raises(AttributeError, match="nope"):
        h.nope  # type: ignore[attr-defined]  # noqa: B018
