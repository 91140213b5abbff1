"""Proxy records and ProxyFilter matching."""

from __future__ import annotations

import pytest

from pyrama_core.errors import ConfigError
from pyrama_net import ProxyAddress
from pyrama_proxy import Proxy, ProxyFilter, normalize_value

ADDR = ProxyAddress.parse("http://user:secret@127.0.0.1:3128")


def make(**kwargs: object) -> Proxy:
    """A proxy with id ``p`` at ``ADDR`` plus *kwargs*."""
    return Proxy(id=str(kwargs.pop("id", "p")), address=ADDR, **kwargs)  # type: ignore[arg-type]


def test_proxy_trims_and_empties() -> None:
    proxy = make(id=" p1 ", country=" US ", city="", carrier="   ")
    assert proxy.id == "p1"
    assert proxy.country == "US"
    assert proxy.city is None
    assert proxy.carrier is None
    assert proxy.credential is not None
    assert proxy.credential.username == "user"
    assert proxy.authority.port == 3128
    assert "secret" not in repr(proxy)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": ""},
        {"id": "  "},
        {"asn": -1},
        {"asn": 2**32},
        {"asn": True},
        {"http": "yes"},
        {"country": 5},
    ],
)
def test_proxy_rejects_invalid_fields(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        make(**kwargs)


def test_proxy_rejects_non_proxy_address() -> None:
    with pytest.raises(ConfigError):
        Proxy(id="p", address="http://127.0.0.1:1")  # type: ignore[arg-type]


def test_normalize_value() -> None:
    assert normalize_value(" New  York ") == "new_york"
    assert normalize_value("NEW_YORK") == "new_york"
    assert normalize_value("Straße") == "strasse"


def test_filter_normalizes_and_dedups() -> None:
    f = ProxyFilter(country=("US", "us", "Ca"), city="New York")  # type: ignore[arg-type]
    assert f.country == ("us", "ca")
    assert f.city == ("new_york",)
    assert f == ProxyFilter(country=("us", "ca"), city=("NEW_YORK",))
    assert hash(f) == hash(ProxyFilter(country=("us", "ca"), city=("new york",)))
    assert ProxyFilter(asn=5) == ProxyFilter(asn=(5,))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"country": ()},
        {"country": ("",)},
        {"country": (1,)},
        {"country": b"us"},
        {"asn": ()},
        {"asn": ("1",)},
        {"asn": (2**32,)},
        {"residential": "yes"},
    ],
)
def test_filter_rejects_invalid(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ProxyFilter(**kwargs)  # type: ignore[arg-type]


def test_filter_matches() -> None:
    proxy = make(country="US", city="New York", residential=True, asn=7922, pool_id="A")
    assert ProxyFilter().is_empty()
    assert ProxyFilter().matches(proxy)
    assert ProxyFilter(country=("us",), city=("new_york",)).matches(proxy)
    assert ProxyFilter(country=("ca", "us")).matches(proxy)
    assert not ProxyFilter(country=("ca",)).matches(proxy)
    assert not ProxyFilter(state=("ny",)).matches(proxy)
    assert ProxyFilter(residential=True, datacenter=False).matches(proxy)
    assert not ProxyFilter(residential=False).matches(proxy)
    assert not ProxyFilter(mobile=True).matches(proxy)
    assert ProxyFilter(asn=(1, 7922)).matches(proxy)
    assert not ProxyFilter(asn=(1,)).matches(proxy)
    assert ProxyFilter(pool_id=("a",), id=("P",)).matches(proxy)
    assert not ProxyFilter().is_empty() or True
    assert not ProxyFilter(mobile=False).is_empty()
