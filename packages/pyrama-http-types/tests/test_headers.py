from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_types import HeaderMap, check_header_name, check_header_value
from pyrama_http_types.errors import HeaderError

TOKEN_ALPHABET = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.text(alphabet=st.sampled_from("aAbBcC-xX"), min_size=1, max_size=4)
values = st.binary(max_size=12).filter(lambda b: not any(c in b for c in b"\r\n\x00"))


def test_order_and_case_are_kept() -> None:
    h = HeaderMap()
    h.add("X-Custom-HEADER", "1")
    h.add("host", "example.com")
    h.add("x-custom-header", "2")
    assert list(h) == [("X-Custom-HEADER", "1"), ("host", "example.com"), ("x-custom-header", "2")]
    assert h.raw_items() == [
        (b"X-Custom-HEADER", b"1"),
        (b"host", b"example.com"),
        (b"x-custom-header", b"2"),
    ]
    assert h.get("X-CUSTOM-header") == "1"
    assert h.get_all("x-custom-header") == ["1", "2"]
    assert h.get_raw(b"HOST") == b"example.com"
    assert "Host" in h
    assert b"host" in h
    assert "missing" not in h
    assert 42 not in h
    assert len(h) == 3
    assert h.count("x-custom-header") == 2
    assert h.names() == ["X-Custom-HEADER", "host"]
    assert h.lower_items()[0] == (b"x-custom-header", b"1")


def test_set_replaces_all_at_first_position_keeping_case() -> None:
    h = HeaderMap([("A", "1"), ("Via", "x"), ("B", "2"), ("via", "y")])
    h.set("VIA", "z")
    assert h.raw_items() == [(b"A", b"1"), (b"Via", b"z"), (b"B", b"2")]
    h.set("New", "n")
    assert h.raw_items()[-1] == (b"New", b"n")
    h["a"] = "one"
    assert h["A"] == "one"


def test_remove_pop_and_delete() -> None:
    h = HeaderMap({"A": "1", "b": "2"})
    h.add("a", "3")
    assert h.remove("A") == 2
    assert h.remove("A") == 0
    assert h.raw_items() == [(b"b", b"2")]
    assert h.pop("B") == "2"
    assert h.pop("B", "d") == "d"
    with pytest.raises(KeyError):
        del h["zzz"]
    with pytest.raises(KeyError):
        h["zzz"]
    h.add("k", "v")
    del h["K"]
    assert not h


def test_copy_is_independent_and_equality() -> None:
    h = HeaderMap([("A", "1")])
    c = h.copy()
    c.add("B", "2")
    assert len(h) == 1
    assert c != h
    assert HeaderMap([("a", "1")]) == HeaderMap([("A", "1")])
    assert HeaderMap([("a", "1"), ("b", "2")]) != HeaderMap([("b", "2"), ("a", "1")])
    assert HeaderMap(h) == h


def test_from_raw_does_not_validate_but_validated_does() -> None:
    h = HeaderMap.from_raw([(b"Content-Length", b"5")])
    assert h.get("content-length") == "5"
    with pytest.raises(HeaderError, match="CR, LF and NUL"):
        HeaderMap.validated([("X", "a\r\nInjected: 1")])
    with pytest.raises(HeaderError, match="token"):
        HeaderMap.validated([("Bad Name", "v")])
    with pytest.raises(HeaderError, match="empty"):
        HeaderMap([("", "v")])
    with pytest.raises(HeaderError):
        HeaderMap().add("X", "nul\x00")
    with pytest.raises(HeaderError):
        HeaderMap().set("X:", "v")
    with pytest.raises(HeaderError, match="Latin-1"):
        HeaderMap().add("X", "\u20ac")
    with pytest.raises(TypeError):
        HeaderMap().add("X", 5)  # type: ignore[arg-type]
    assert HeaderError("x").status_hint == 400


def test_str_and_bytes_round_trip_latin1() -> None:
    h = HeaderMap()
    h.add(b"X-Bin", b"\xe9\xff")
    assert h.get("x-bin") == "\xe9\xff"
    h.add("X-Text", "caf\xe9")
    assert h.get_raw("x-text") == b"caf\xe9"


def test_get_joined_setdefault_extend_clear() -> None:
    h = HeaderMap()
    assert h.get_joined("accept") is None
    h.add("Accept", "a")
    h.add("accept", "b")
    assert h.get_joined("ACCEPT") == "a, b"
    assert h.setdefault("Accept", "c") == "a"
    assert h.setdefault("X", "y") == "y"
    other = HeaderMap([("Z", "1")])
    h.extend(other)
    h.extend({"W": "2"})
    assert h.names() == ["Accept", "X", "Z", "W"]
    h.clear()
    assert len(h) == 0


def test_repr_redacts_secrets() -> None:
    h = HeaderMap([("Authorization", "Basic c2VjcmV0"), ("Cookie", "a=b"), ("X", "shown")])
    r = repr(h)
    assert "c2VjcmV0" not in r
    assert "a=b" not in r
    assert "shown" in r


def test_check_helpers() -> None:
    assert check_header_name(TOKEN_ALPHABET) == TOKEN_ALPHABET.encode()
    assert check_header_value("a\tb") == b"a\tb"


# -- property tests against a reference model ---------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), names, values),
        st.tuples(st.just("set"), names, values),
        st.tuples(st.just("remove"), names, st.just(b"")),
        st.tuples(st.just("get"), names, st.just(b"")),
    ),
    max_size=60,
)


@given(ops)
def test_matches_reference_model(operations: list[tuple[str, str, bytes]]) -> None:
    h = HeaderMap()
    model: list[tuple[str, bytes]] = []
    for op, name, value in operations:
        low = name.lower()
        if op == "add":
            h.add(name, value)
            model.append((name, value))
        elif op == "set":
            h.set(name, value)
            idx = [i for i, (n, _) in enumerate(model) if n.lower() == low]
            if not idx:
                model.append((name, value))
            else:
                first = idx[0]
                model[first] = (model[first][0], value)
                model = [e for i, e in enumerate(model) if i == first or i not in idx]
        elif op == "remove":
            removed = h.remove(name)
            before = len(model)
            model = [e for e in model if e[0].lower() != low]
            assert removed == before - len(model)
        else:
            expected = [v for n, v in model if n.lower() == low]
            assert h.get_all_raw(name.upper()) == expected
            assert h.get_raw(name) == (expected[0] if expected else None)
            assert (name in h) == bool(expected)
        assert h.raw_items() == [(n.encode(), v) for n, v in model]
    assert len(h) == len(model)


@given(st.lists(st.tuples(names, values), max_size=20))
def test_from_raw_equals_validated(pairs: list[tuple[str, bytes]]) -> None:
    raw = [(n.encode(), v) for n, v in pairs]
    assert HeaderMap.from_raw(raw) == HeaderMap.validated(raw)
    assert HeaderMap.from_raw(raw).raw_items() == raw


@given(st.binary(max_size=20))
def test_value_validation_matches_rule(value: bytes) -> None:
    bad = any(c in value for c in b"\r\n\x00")
    if bad:
        with pytest.raises(HeaderError):
            check_header_value(value)
    else:
        assert check_header_value(value) == value


@given(st.binary(min_size=0, max_size=10))
def test_name_validation_matches_rule(name: bytes) -> None:
    ok = bool(name) and all(chr(c) in TOKEN_ALPHABET for c in name)
    if ok:
        assert check_header_name(name) == name
    else:
        with pytest.raises(HeaderError):
            check_header_name(name)


def test_large_map_uses_the_index_consistently() -> None:
    h = HeaderMap([(f"X-{i}", str(i)) for i in range(40)])
    h.add("x-7", "again")
    assert h.get("X-7") == "7"
    assert h.get_all("x-7") == ["7", "again"]
    assert "x-39" in h
    h.set("X-7", "one")
    assert h.get_all("x-7") == ["one"]
    assert h.remove("x-0") == 1
    assert "x-0" not in h
    h.add("New", "n")
    assert h.get("new") == "n"
    assert h.count("x-1") == 1
    assert len(h) == 40


def test_key_cache_is_bounded() -> None:
    from pyrama_http_types import _headers

    h = HeaderMap([("A", "1")])
    for i in range(_headers._KEY_CACHE_MAX + 50):
        assert h.get(f"unseen-name-{i}") is None
    assert len(_headers._KEY_CACHE) <= _headers._KEY_CACHE_MAX
    assert h.get("A") == "1"


def test_non_latin1_lookup_finds_nothing() -> None:
    h = HeaderMap([("A", "1")])
    assert h.get("\u20ac") is None
    assert "\u20ac" not in h
