"""MemoryProxyDB, CSV loading (errors with line numbers, round trips) and ProxySelectLayer."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions, service_fn
from pyrama_net import ProxyAddress
from pyrama_proxy import (
    MemoryProxyDB,
    Proxy,
    ProxyDB,
    ProxyDBLoadError,
    ProxyFilter,
    ProxyNotFoundError,
    ProxySelection,
    ProxySelectLayer,
    load_proxy_csv,
    parse_proxy_csv,
    parse_username_labels,
    proxies_to_csv,
)

CSV = """\
# id and address are required, the rest optional
id,address,http,socks5h,datacenter,residential,mobile,pool_id,country,city,carrier,asn
us-ny-1,http://a:b@127.0.0.1:3128,true,false,,true,,pool1,US,New York,comcast,7922
us-ny-2,socks5h://127.0.0.1:1080,false,true,false,true,false,pool1,us,new york,,7922

de-1,127.0.0.1:3129,yes,no,1,0,0,pool2,DE,Berlin,,3320
us-mob,127.0.0.1:3130,1,0,0,0,1,pool2,us,,att,
"""


ADDR = ProxyAddress.parse("127.0.0.1:9")


def db(selection: ProxySelection = ProxySelection.RANDOM) -> MemoryProxyDB:
    return MemoryProxyDB.from_csv_text(CSV, selection=selection)


def ids(proxies: tuple[Proxy, ...]) -> list[str]:
    return [p.id for p in proxies]


def test_csv_loads_every_column() -> None:
    proxies = db().proxies
    assert ids(proxies) == ["us-ny-1", "us-ny-2", "de-1", "us-mob"]
    first = proxies[0]
    assert first.address == ProxyAddress.parse("http://a:b@127.0.0.1:3128")
    assert (first.http, first.socks5h, first.residential, first.datacenter) == (
        True,
        False,
        True,
        False,
    )
    assert (first.country, first.city, first.carrier, first.asn) == (
        "US",
        "New York",
        "comcast",
        7922,
    )
    assert proxies[3].asn is None
    assert proxies[3].mobile


def test_find_uses_filters() -> None:
    d = db()
    assert ids(d.find(ProxyFilter())) == ["us-ny-1", "us-ny-2", "de-1", "us-mob"]
    assert ids(d.find(ProxyFilter(country=("us",)))) == ["us-ny-1", "us-ny-2", "us-mob"]
    assert ids(d.find(ProxyFilter(city=("new_york",)))) == ["us-ny-1", "us-ny-2"]
    assert ids(d.find(ProxyFilter(country=("us",), residential=False))) == ["us-mob"]
    assert ids(d.find(ProxyFilter(country=("us", "de"), mobile=False, asn=(7922, 3320)))) == [
        "us-ny-1",
        "us-ny-2",
        "de-1",
    ]
    assert ids(d.find(ProxyFilter(pool_id=("POOL2",), datacenter=True))) == ["de-1"]
    assert d.find(ProxyFilter(country=("fr",))) == ()
    assert ids(d.find(ProxyFilter(id=("US-MOB",)))) == ["us-mob"]


@given(st.data())
def test_index_agrees_with_scan(data: st.DataObject) -> None:
    d = db()
    values = st.none() | st.lists(
        st.sampled_from(["us", "de", "fr", "new_york", "berlin", "pool1", "pool2", "att"]),
        min_size=1,
        max_size=3,
    ).map(tuple)
    f = data.draw(
        st.builds(
            ProxyFilter,
            country=values,
            city=values,
            pool_id=values,
            carrier=values,
            asn=st.none() | st.lists(st.sampled_from([7922, 3320, 1]), min_size=1).map(tuple),
            datacenter=st.none() | st.booleans(),
            residential=st.none() | st.booleans(),
            mobile=st.none() | st.booleans(),
        )
    )
    assert d.find(f) == tuple(p for p in d.proxies if f.matches(p))


def test_pick_random_and_round_robin() -> None:
    f = ProxyFilter(country=("us",))
    rr = db(ProxySelection.ROUND_ROBIN)
    assert [rr.pick(f).id for _ in range(6)] == ["us-ny-1", "us-ny-2", "us-mob"] * 2
    d = MemoryProxyDB(db().proxies, rng=random.Random(1))
    counts = Counter(d.pick(f).id for _ in range(300))
    assert set(counts) == {"us-ny-1", "us-ny-2", "us-mob"}
    with pytest.raises(ProxyNotFoundError):
        d.pick(ProxyFilter(country=("fr",)))
    assert d.pick(f, lambda p: p.socks5h).id == "us-ny-2"
    with pytest.raises(ProxyNotFoundError):
        d.pick(f, lambda p: p.udp)


async def test_get_proxy_is_a_proxy_db() -> None:
    d = db()
    assert isinstance(d, ProxyDB)
    assert (await d.get_proxy(ProxyFilter(country=("de",)))).id == "de-1"


def test_replace_is_atomic_and_validated(tmp_path: Path) -> None:
    d = db(ProxySelection.ROUND_ROBIN)
    f = ProxyFilter(country=("us",))
    d.pick(f)
    new = [Proxy(id="x", address=ProxyAddress.parse("127.0.0.1:9"), country="us")]
    d.replace(new)
    assert ids(d.find(f)) == ["x"]
    assert d.pick(f).id == "x"
    assert len(d) == 1
    with pytest.raises(ProxyDBLoadError, match="duplicate proxy id 'x'"):
        d.replace(new * 2)
    assert len(d) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("id,address\nok,127.0.0.1:1\nbroken,nope:xx\n", encoding="utf-8")
    with pytest.raises(ProxyDBLoadError, match="line 3"):
        d.reload_csv(bad)
    assert ids(d.proxies) == ["x"]
    good = tmp_path / "good.csv"
    good.write_text(CSV, encoding="utf-8")
    d.reload_csv(good)
    assert len(d) == 4
    assert len(MemoryProxyDB.from_csv(good)) == 4


async def test_replace_while_picking() -> None:
    """Picks running concurrently with replacements always see a whole set."""
    d = db()
    sets = [
        [
            Proxy(id=f"{gen}-{i}", address=ProxyAddress.parse("127.0.0.1:9"), country="us")
            for i in range(5)
        ]
        for gen in range(20)
    ]

    async def picker() -> None:
        for _ in range(200):
            proxy = await d.get_proxy(ProxyFilter(country=("us",)))
            assert proxy.country is not None
            assert proxy.country.lower() == "us"
            await asyncio.sleep(0)

    async def replacer() -> None:
        for s in sets:
            d.replace(s)
            await asyncio.sleep(0)

    await asyncio.gather(picker(), picker(), replacer())
    assert ids(d.proxies)[0] == "19-0"


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("address\n127.0.0.1:1\n", "line 1: the header has no 'id'"),
        ("id,address,color\n", "line 1: unknown column 'color'"),
        ("id,address,id\n", "line 1: a column appears twice"),
        ("id,address\np1\n", "line 2: expected 2 cells"),
        ("id,address\n,127.0.0.1:1\n", "line 2: column 'id' is empty"),
        ("id,address,http\np,127.0.0.1:1,maybe\n", "line 2: column 'http'"),
        ("id,address,asn\np,127.0.0.1:1,12ab\n", "line 2: column 'asn'"),
        ("id,address,asn\np,127.0.0.1:1,4294967296\n", "line 2: .*asn"),
        (
            "id,address\n\np,127.0.0.1:1\np,127.0.0.1:2\n",
            "line 4: duplicate proxy id 'p' \\(first on line 3\\)",
        ),
        ("id,address\np,ftp://127.0.0.1\n", "line 2: column 'address'"),
        ('id,address\n"p,127.0.0.1:1\n', "malformed CSV"),
        ("id,address\np," + "1" * 4097 + "\n", "line 2: a cell is longer than 4096"),
    ],
)
def test_csv_errors_name_the_line(text: str, fault: str) -> None:
    with pytest.raises(ProxyDBLoadError, match=fault):
        parse_proxy_csv(text.splitlines(keepends=True))


def test_csv_password_not_in_errors() -> None:
    with pytest.raises(ProxyDBLoadError) as info:
        parse_proxy_csv(["id,address\n", "p,http://u:topsecret@127.0.0.1:99999\n"])
    assert "topsecret" not in str(info.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProxyDBLoadError, match="cannot read"):
        load_proxy_csv(tmp_path / "none.csv")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(b"id,address\n\xff,127.0.0.1:1\n")
    with pytest.raises(ProxyDBLoadError, match="not UTF-8"):
        load_proxy_csv(bad)


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12
).map(str.strip)
_proxies = st.builds(
    Proxy,
    id=st.text(alphabet="abcdefghij0123456789-_.", min_size=1, max_size=10),
    address=st.sampled_from(
        [
            ProxyAddress.parse("http://127.0.0.1:3128"),
            ProxyAddress.parse("socks5h://us%2Ber:p%3Ass@[::1]:1080"),
            ProxyAddress.parse("https://proxy.example:443"),
        ]
    ),
    tcp=st.booleans(),
    udp=st.booleans(),
    http=st.booleans(),
    https=st.booleans(),
    socks5=st.booleans(),
    socks5h=st.booleans(),
    datacenter=st.booleans(),
    residential=st.booleans(),
    mobile=st.booleans(),
    pool_id=st.none() | _text,
    continent=st.none() | _text,
    country=st.none() | _text,
    state=st.none() | _text,
    city=st.none() | _text,
    carrier=st.none() | _text,
    asn=st.none() | st.integers(0, 2**32 - 1),
)


@given(st.lists(_proxies, max_size=5, unique_by=lambda p: p.id))
def test_csv_round_trip(proxies: list[Proxy]) -> None:
    text = proxies_to_csv(proxies)
    assert parse_proxy_csv(text.splitlines(keepends=True)) == proxies


@given(st.text(max_size=300))
def test_csv_parser_total(text: str) -> None:
    with contextlib.suppress(ProxyDBLoadError):
        parse_proxy_csv(text.splitlines(keepends=True))


class Req:
    """A minimal input with extensions."""

    def __init__(self) -> None:
        self.extensions = Extensions()


async def test_select_layer_uses_filter_from_extensions() -> None:
    d = db(ProxySelection.ROUND_ROBIN)

    async def handler(req: Req) -> ProxyAddress | None:
        return req.extensions.get(ProxyAddress)

    svc = ProxySelectLayer(d).layer(service_fn(handler))
    req = Req()
    _, f = parse_username_labels("john-country-de")
    req.extensions.insert(f)
    assert await svc.serve(req) == ProxyAddress.parse("127.0.0.1:3129")
    assert req.extensions.require(Proxy).id == "de-1"
    # no filter, no default: passes through without a proxy
    assert await svc.serve(Req()) is None
    # default filter and predicate
    svc2 = ProxySelectLayer(
        d, default_filter=ProxyFilter(country=("us",)), predicate=lambda p: p.socks5h
    ).layer(service_fn(handler))
    assert await svc2.serve(Req()) == ProxyAddress.parse("socks5h://127.0.0.1:1080")
    # nothing matches
    bad = Req()
    bad.extensions.insert(ProxyFilter(country=("fr",)))
    with pytest.raises(ProxyNotFoundError):
        await svc.serve(bad)
    # required without any filter
    svc3 = ProxySelectLayer(d, required=True).layer(service_fn(handler))
    with pytest.raises(ProxyNotFoundError):
        await svc3.serve(Req())


def test_filter_cache_is_bounded() -> None:
    d = db()
    for asn in range(1100):
        d.find(ProxyFilter(asn=(asn,)))
    assert len(d._snapshot.cache) == 1024
    rr = db(ProxySelection.ROUND_ROBIN)
    for i in range(4200):
        assert rr.pick(ProxyFilter(city=(f"x{i}", "new york"))).id == "us-ny-1"
    assert len(rr._cursors) <= 4096


def test_csv_refuses_comment_like_id() -> None:
    with pytest.raises(ProxyDBLoadError, match="comment"):
        proxies_to_csv([Proxy(id="#1", address=ADDR)])


def test_csv_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfid,address\r\np,127.0.0.1:1\r\n")
    assert [p.id for p in load_proxy_csv(path)] == ["p"]
