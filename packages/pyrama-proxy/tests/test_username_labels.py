"""Username label parsing: examples, errors, limits and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions
from pyrama_proxy import (
    ProxyFilter,
    ProxyFilterLabelParser,
    UsernameLabelError,
    format_username_labels,
    parse_username,
    parse_username_labels,
)


def test_example_from_the_docs() -> None:
    name, f = parse_username_labels("john-country-us-residential-city-new_york")
    assert name == "john"
    assert f == ProxyFilter(country=("us",), residential=True, city=("new_york",))


def test_no_labels_means_no_filter() -> None:
    assert parse_username_labels("john") == ("john", None)


def test_keys_case_insensitive_values_normalized() -> None:
    _, f = parse_username_labels("john-COUNTRY-US-City-New_York")
    assert f == ProxyFilter(country=("us",), city=("new_york",))


def test_repeated_keys_accumulate() -> None:
    _, f = parse_username_labels("j-country-us-country-ca-country-us-asn-1-asn-2")
    assert f == ProxyFilter(country=("us", "ca"), asn=(1, 2))


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("j-residential", ProxyFilter(residential=True)),
        ("j-residential-true", ProxyFilter(residential=True)),
        ("j-residential-false", ProxyFilter(residential=False)),
        ("j-residential-NO", ProxyFilter(residential=False)),
        ("j-mobile-0-datacenter-1", ProxyFilter(mobile=False, datacenter=True)),
        ("j-datacenter-country-de", ProxyFilter(datacenter=True, country=("de",))),
        ("j-pool-a1-id-p9-carrier-att", ProxyFilter(pool_id=("a1",), id=("p9",), carrier=("att",))),
        ("j-continent-eu-state-by", ProxyFilter(continent=("eu",), state=("by",))),
        ("j-city-mobile", ProxyFilter(city=("mobile",))),
    ],
)
def test_label_forms(username: str, expected: ProxyFilter) -> None:
    assert parse_username_labels(username)[1] == expected


@pytest.mark.parametrize(
    ("username", "fault"),
    [
        ("john-contry-us", "unknown username label 'contry'"),
        ("john-country", "'country' needs a value"),
        ("john-country-us-city", "'city' needs a value"),
        ("john--country-us", "empty label"),
        ("john-country-us-", "empty label"),
        ("-country-us", "no name"),
        ("", "no name"),
        ("john-asn-12x", "not a number"),
        ("john-asn-99999999999", "not a number"),
        ("john-asn-4294967296", "out of range"),
        ("john-residential-residential-false", "both true and false"),
        ("john-true", "unknown username label 'true'"),
    ],
)
def test_errors_are_clear(username: str, fault: str) -> None:
    with pytest.raises(UsernameLabelError, match=fault):
        parse_username_labels(username)


def test_limits() -> None:
    with pytest.raises(UsernameLabelError, match="longer than 1024"):
        parse_username_labels("j" * 1025)
    parse_username_labels("j" * 1024)
    many = "j" + "-residential" * 64
    assert parse_username_labels(many)[1] == ProxyFilter(residential=True)
    with pytest.raises(UsernameLabelError, match="more than 64 labels"):
        parse_username_labels(many + "-mobile")


def test_custom_separator() -> None:
    assert parse_username_labels("john_doe.country.us", separator=".") == (
        "john_doe",
        ProxyFilter(country=("us",)),
    )


class SessionParser:
    """A custom label parser: ``session-<id>`` sticks to a session id."""

    def __init__(self) -> None:
        self.expect = False
        self.session: str | None = None

    def parse_label(self, label: str) -> bool:
        if self.expect:
            self.expect = False
            self.session = label
            return True
        if label == "session":
            self.expect = True
            return True
        return False

    def finish(self, extensions: Extensions) -> None:
        if self.expect:
            raise UsernameLabelError("session needs a value", label="session")
        if self.session is not None:
            extensions.insert(self.session)


def test_pluggable_parsers() -> None:
    name, ext = parse_username(
        "john-session-abc-country-us", (SessionParser, ProxyFilterLabelParser)
    )
    assert name == "john"
    assert ext.get(str) == "abc"
    assert ext.get(ProxyFilter) == ProxyFilter(country=("us",))
    with pytest.raises(UsernameLabelError, match="unknown username label 'country'"):
        parse_username("john-session-abc-country-us", (SessionParser,))
    with pytest.raises(UsernameLabelError, match="session needs a value"):
        parse_username("john-session", (SessionParser, ProxyFilterLabelParser))


_value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12).filter(
    lambda v: v.strip("_") == v
)
_values = st.none() | st.lists(_value, min_size=1, max_size=3, unique=True).map(tuple)
_filters = st.builds(
    ProxyFilter,
    id=_values,
    pool_id=_values,
    continent=_values,
    country=_values,
    state=_values,
    city=_values,
    carrier=_values,
    asn=st.none() | st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3).map(tuple),
    datacenter=st.none() | st.booleans(),
    residential=st.none() | st.booleans(),
    mobile=st.none() | st.booleans(),
)
_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_.", min_size=1, max_size=16)


@given(name=_names, proxy_filter=_filters)
def test_format_parse_round_trip(name: str, proxy_filter: ProxyFilter) -> None:
    username = format_username_labels(name, proxy_filter)
    parsed_name, parsed = parse_username_labels(username)
    assert parsed_name == name
    assert (parsed or ProxyFilter()) == proxy_filter


@given(st.text(max_size=200))
def test_parser_total(username: str) -> None:
    """Any text either parses or raises UsernameLabelError, nothing else."""
    try:
        name, f = parse_username_labels(username)
    except UsernameLabelError:
        return
    assert name
    assert "-" not in name
    assert f is None or isinstance(f, ProxyFilter)


def test_format_refuses_separator_in_value() -> None:
    with pytest.raises(UsernameLabelError, match="separator"):
        format_username_labels("j", ProxyFilter(city=("a-b",)))
