from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions


class Base:
    pass


class Derived(Base):
    pass


def test_newest_insert_wins() -> None:
    ext = Extensions()
    ext.insert(1)
    ext.insert(2)
    assert ext.get(int) == 2
    assert len(ext) == 1


def test_get_default_require_contains() -> None:
    ext = Extensions()
    assert ext.get(str) is None
    assert ext.get(str, "dflt") == "dflt"
    assert str not in ext
    with pytest.raises(KeyError, match="no str"):
        ext.require(str)
    ext.insert("x")
    assert ext.require(str) == "x"
    assert ext.contains(str)


def test_insert_under_supertype_key() -> None:
    ext = Extensions()
    d = Derived()
    ext.insert(d, Base)
    assert ext.get(Base) is d
    assert ext.get(Derived) is None
    with pytest.raises(TypeError):
        ext.insert(3, str)


def test_fork_falls_through_and_child_does_not_leak() -> None:
    parent = Extensions()
    parent.insert(1)
    parent.insert("parent")
    child = parent.fork()
    assert child.parent is parent
    assert child.get(int) == 1
    child.insert("child")
    child.insert(2.5)
    assert child.get(str) == "child"
    assert parent.get(str) == "parent"
    assert parent.get(float) is None
    assert len(child) == 3
    # later parent inserts are visible through the child
    parent.insert(b"late")
    assert child.get(bytes) == b"late"


def test_remove_only_touches_own_map() -> None:
    parent = Extensions()
    parent.insert(1)
    child = parent.fork()
    child.insert(2)
    assert child.remove(int) == 2
    assert child.get(int) == 1  # falls through again
    assert child.remove(int) is None
    assert parent.get(int) == 1


def test_extend_and_items() -> None:
    a = Extensions()
    a.insert(1)
    b = Extensions()
    b.insert("s")
    b.insert(2)
    a.extend(b)
    assert dict(a.items()) == {int: 2, str: "s"}
    assert "int" in repr(a)


def test_extend_from_a_root_copies_its_values_and_shares_no_dict() -> None:
    root = Extensions()
    root.insert(1)
    root.insert("s")
    empty = Extensions()
    empty.extend(root)  # no map of its own yet
    assert dict(empty.items()) == {int: 1, str: "s"}
    has = Extensions()
    has.insert(b"b")
    has.insert(9)
    has.extend(root)  # root's values win
    assert dict(has.items()) == {int: 1, str: "s", bytes: b"b"}
    root.insert(2.5)  # later changes to the source do not show in the copies
    assert 2.5 not in dict(empty.items()).values()
    empty.insert(7)
    assert root.get(int) == 1
    nothing = Extensions()
    nothing.extend(Extensions())
    assert dict(nothing.items()) == {}


def test_has_any_looks_through_the_chain() -> None:
    root = Extensions()
    root.insert(1)
    child = root.fork()
    child.insert("s")
    assert child.has_any(frozenset({int}))
    assert child.has_any(frozenset({bytes, str}))
    assert not child.has_any(frozenset({bytes, float}))
    assert not child.has_any(frozenset())
    assert not root.has_any({str})  # a child's values never show in the parent
    assert not Extensions().has_any({int})


def test_extend_from_a_fork_takes_what_the_fork_shows() -> None:
    root = Extensions()
    root.insert(1)
    root.insert("s")
    child = root.fork()
    child.insert(2)
    into = Extensions()
    into.extend(child)
    assert dict(into.items()) == {int: 2, str: "s"}


@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from([int, str, bytes, float]), st.integers()), max_size=6),
        min_size=1,
        max_size=4,
    )
)
def test_fork_chain_matches_a_dict_model(levels: list[list[tuple[type, int]]]) -> None:
    makers: dict[type, Callable[[int], object]] = {
        int: int,
        str: str,
        bytes: lambda n: str(n).encode(),
        float: float,
    }
    ext = Extensions()
    model: dict[type, object] = {}
    for i, inserts in enumerate(levels):
        if i:
            ext = ext.fork()
        for key, n in inserts:
            value = makers[key](n)
            ext.insert(value)
            model[key] = value
    assert dict(ext.items()) == model
    assert len(ext) == len(model)
    for key in (int, str, bytes, float):
        assert ext.get(key) == model.get(key)


def test_maps_without_values_of_their_own() -> None:
    # a fresh map and a fork hold no dict until something is inserted; every method still works
    root = Extensions()
    assert root.get(int) is None
    assert root.remove(int) is None
    assert list(root.items()) == []
    child = root.fork()
    root.insert(7)
    assert child.get(int) == 7  # falls through an empty child
    assert child.remove(int) is None  # the parent's value is not the child's to remove
    assert root.get(int) == 7
    target = Extensions()
    target.extend(child)
    assert target.get(int) == 7
    empty = Extensions()
    empty.extend(Extensions())
    assert len(empty) == 0


def test_fork_of_a_subclass_is_that_subclass() -> None:
    class Tagged(Extensions):
        __slots__ = ()

    child = Tagged().fork()
    assert type(child) is Tagged
    assert child.parent is not None
