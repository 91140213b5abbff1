"""Forwarded model (pyrama_net) and the ForwardedLayer / SetForwardedHeaderLayer."""

from __future__ import annotations

import contextlib
import ipaddress
import socket

import pytest
from http_support import running
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import service_fn
from pyrama_http import EasyHttpWebClient
from pyrama_http.layer import ForwardedLayer, SetForwardedHeaderLayer
from pyrama_http_types import Request, Response
from pyrama_net import (
    ClientIp,
    Forwarded,
    ForwardedElement,
    ForwardedNode,
    IpNetworks,
    SocketInfo,
    parse_forwarded,
    parse_x_forwarded_for,
)
from pyrama_net.errors import AddressError

# -- parsing ---------------------------------------------------------------------------------


def test_rfc7239_examples() -> None:
    fwd = parse_forwarded(['for="_gazonk"', 'For="[2001:db8:cafe::17]:4711"'])
    assert fwd.elements[0].for_ == ForwardedNode(name="_gazonk")
    node = fwd.elements[1].for_
    assert node is not None
    assert node.ip == ipaddress.ip_address("2001:db8:cafe::17")
    assert node.port == 4711
    fwd = parse_forwarded("for=192.0.2.60;proto=HTTP;by=203.0.113.43")
    e = fwd.elements[0]
    assert str(e.for_) == "192.0.2.60"
    assert e.proto == "http"
    assert str(e.by) == "203.0.113.43"
    fwd = parse_forwarded("for=192.0.2.43, for=198.51.100.17;host=example.com")
    assert [str(x.for_) for x in fwd.elements] == ["192.0.2.43", "198.51.100.17"]
    assert fwd.host == "example.com"
    assert str(fwd.client) == "192.0.2.43"
    assert parse_forwarded("for=unknown").elements[0].for_ == ForwardedNode(name="unknown")


@pytest.mark.parametrize(
    "bad",
    [
        "for=2001:db8::1",  # IPv6 must be quoted and bracketed
        'for="[2001:db8::1"',
        "for=192.0.2.1;for=192.0.2.2",  # repeated parameter
        "for",
        "for=",
        'for="unterminated',
        "for=300.1.1.1",
        "for=192.0.2.1:99999",
        "for=192.0.2.1 junk",
        "proto=1http",
        'host="a\x01b"',
    ],
)
def test_malformed_forwarded(bad: str) -> None:
    with pytest.raises(AddressError):
        parse_forwarded(bad)


def test_x_forwarded_for() -> None:
    nodes = parse_x_forwarded_for(["203.0.113.195, 2001:db8::2", "[2001:db8::3]:80, 10.0.0.1:8080"])
    assert [str(n) for n in nodes] == [
        "203.0.113.195",
        "[2001:db8::2]",
        "[2001:db8::3]:80",
        "10.0.0.1:8080",
    ]
    with pytest.raises(AddressError):
        parse_x_forwarded_for("unknown")
    with pytest.raises(AddressError):
        parse_x_forwarded_for("1.2.3")
    fwd = Forwarded.from_x_forwarded("1.2.3.4, 10.0.0.1", host="example.com", proto="https")
    assert fwd.elements[-1].host == "example.com"
    assert fwd.proto == "https"
    assert fwd.x_forwarded_for() == "1.2.3.4, 10.0.0.1"


def test_element_limit() -> None:
    with pytest.raises(AddressError, match="more than 64"):
        parse_forwarded(", ".join(["for=1.2.3.4"] * 65))
    with pytest.raises(AddressError, match="more than 64"):
        parse_x_forwarded_for(", ".join(["1.2.3.4"] * 65))


ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))
nodes = st.one_of(
    st.builds(
        lambda ip, port: ForwardedNode(ip=ip, port=port), ips, st.none() | st.integers(0, 65535)
    ),
    st.just(ForwardedNode(name="unknown")),
    st.from_regex(r"_[A-Za-z0-9._\-]{1,10}", fullmatch=True).map(lambda n: ForwardedNode(name=n)),
)
hosts = st.none() | st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20
)
elements = st.builds(
    ForwardedElement,
    for_=st.none() | nodes,
    by=st.none() | nodes,
    host=hosts,
    proto=st.none() | st.sampled_from(["http", "https", "ws"]),
).filter(lambda e: any(v is not None for v in (e.for_, e.by, e.host, e.proto)))


@given(st.lists(elements, min_size=1, max_size=10))
def test_forwarded_roundtrip(elems: list[ForwardedElement]) -> None:
    fwd = Forwarded(tuple(elems))
    assert parse_forwarded(fwd.encode()) == fwd


@given(st.text(max_size=120))
def test_forwarded_parser_only_raises_address_error(text: str) -> None:
    try:
        fwd = parse_forwarded(text)
    except AddressError:
        return
    # whatever parses, re-encodes to something that parses to the same
    assert parse_forwarded(fwd.encode()) == fwd


@given(st.lists(st.tuples(ips, st.none() | st.integers(0, 65535)), min_size=1, max_size=10))
def test_x_forwarded_for_roundtrip(
    items: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int | None]],
) -> None:
    text = ", ".join(
        (f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}") if port is not None else str(ip)
        for ip, port in items
    )
    parsed = parse_x_forwarded_for(text)
    assert [(n.ip, n.port) for n in parsed] == items


@given(st.text(max_size=80))
def test_x_forwarded_for_parser_only_raises_address_error(text: str) -> None:
    with contextlib.suppress(AddressError):
        parse_x_forwarded_for(text)


# -- ForwardedLayer ----------------------------------------------------------------------------


async def report(req: Request) -> Response:
    client = req.extensions.get(ClientIp)
    fwd = req.extensions.get(Forwarded)
    return Response.json(
        {
            "client": None if client is None else str(client.ip),
            "via_header": None if client is None else client.via_header,
            "hops": 0 if fwd is None else len(fwd),
            "proto": None if fwd is None else fwd.proto,
        }
    )


def with_peer(req: Request, ip: str, port: int = 5555) -> Request:
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    req.extensions.insert(SocketInfo(("127.0.0.1", 80), (ip, port), fam))
    return req


async def json_of(resp: Response) -> dict[str, object]:
    import json

    data: dict[str, object] = json.loads(await resp.body.collect())
    return data


async def test_trusted_peer_headers_give_the_client() -> None:
    svc = ForwardedLayer(trusted_proxies=["127.0.0.1", "10.0.0.0/8"]).layer(service_fn(report))
    req = with_peer(
        Request(
            "GET",
            "/",
            headers=[("X-Forwarded-For", "203.0.113.9, 10.1.1.1"), ("X-Forwarded-Proto", "https")],
        ),
        "127.0.0.1",
    )
    got = await json_of(await svc.serve(req))
    assert got == {"client": "203.0.113.9", "via_header": True, "hops": 2, "proto": "https"}


async def test_spoofed_hop_left_of_an_untrusted_one_is_ignored() -> None:
    svc = ForwardedLayer(trusted_proxies=["127.0.0.1"]).layer(service_fn(report))
    req = with_peer(
        Request("GET", "/", headers=[("Forwarded", "for=1.1.1.1, for=198.51.100.7")]), "127.0.0.1"
    )
    got = await json_of(await svc.serve(req))
    assert got["client"] == "198.51.100.7"


async def test_untrusted_peer_headers_are_ignored() -> None:
    svc = ForwardedLayer().layer(service_fn(report))
    req = with_peer(Request("GET", "/", headers=[("X-Real-IP", "9.9.9.9")]), "198.51.100.1")
    got = await json_of(await svc.serve(req))
    assert got == {"client": "198.51.100.1", "via_header": False, "hops": 0, "proto": None}


async def test_header_priority_and_cf_connecting_ip() -> None:
    svc = ForwardedLayer(headers=["cf-connecting-ip", "x-real-ip"], trusted_proxies="all").layer(
        service_fn(report)
    )
    req = with_peer(
        Request("GET", "/", headers=[("X-Real-IP", "9.9.9.9"), ("CF-Connecting-IP", "8.8.4.4")]),
        "198.51.100.1",
    )
    assert (await json_of(await svc.serve(req)))["client"] == "8.8.4.4"


async def test_invalid_header_ignored_or_rejected() -> None:
    def req() -> Request:
        return with_peer(Request("GET", "/", headers=[("Forwarded", "for=[bad")]), "127.0.0.1")

    lenient = ForwardedLayer().layer(service_fn(report))
    assert (await json_of(await lenient.serve(req())))["client"] == "127.0.0.1"
    strict = ForwardedLayer(reject_invalid=True).layer(service_fn(report))
    assert int((await strict.serve(req())).status) == 400


async def test_set_forwarded_header_appends_this_hop() -> None:
    seen: list[Request] = []

    async def upstream(req: Request) -> Response:
        seen.append(req)
        return Response.empty()

    svc = SetForwardedHeaderLayer("forwarded", "x-forwarded-for", by="_proxy").layer(
        service_fn(upstream)
    )
    req = with_peer(
        Request(
            "GET",
            "/a",
            headers=[("Host", "example.com"), ("Forwarded", "for=203.0.113.1;proto=https")],
        ),
        "192.0.2.5",
        4000,
    )
    await svc.serve(req)
    h = seen[0].headers
    assert (
        h["forwarded"]
        == 'for=203.0.113.1;proto=https, for="192.0.2.5:4000";by=_proxy;host=example.com;proto=http'
    )
    assert h["x-forwarded-for"] == "203.0.113.1, 192.0.2.5"
    assert h["x-forwarded-host"] == "example.com"
    assert h["x-forwarded-proto"] == "http"


async def test_ip_networks() -> None:
    nets = IpNetworks.parse("10.0.0.0/8", "::1")
    assert ipaddress.ip_address("10.2.3.4") in nets
    assert ipaddress.ip_address("::ffff:10.0.0.1") in nets  # v4-mapped
    assert ipaddress.ip_address("11.0.0.1") not in nets
    with pytest.raises(AddressError):
        IpNetworks.parse("nope")


async def test_forwarded_over_loopback() -> None:
    """A real connection: the peer (127.0.0.1) is trusted, so the header names the client."""
    svc = ForwardedLayer().layer(service_fn(report))
    async with running(svc) as srv, EasyHttpWebClient() as client:
        resp = await client.serve(
            Request("GET", srv.url + "/", headers=[("Forwarded", "for=198.51.100.20;proto=https")])
        )
        got = await json_of(resp)
    assert got == {"client": "198.51.100.20", "via_header": True, "hops": 1, "proto": "https"}


# -- the per-peer and per-header-value caches ------------------------------------------------


async def test_repeated_exchanges_give_the_same_answers_from_the_cache() -> None:
    svc = ForwardedLayer(trusted_proxies=["127.0.0.1"]).layer(service_fn(report))

    def xff(value: str, peer: str = "127.0.0.1", port: int = 5555) -> Request:
        return with_peer(Request("GET", "/", headers=[("X-Forwarded-For", value)]), peer, port)

    for _ in range(3):  # the second and third answers come from the caches
        got = await json_of(await svc.serve(xff("203.0.113.9")))
        assert got == {"client": "203.0.113.9", "via_header": True, "hops": 1, "proto": None}
        # same header, untrusted peer: still ignored
        got = await json_of(await svc.serve(xff("203.0.113.9", "198.51.100.1")))
        assert got == {"client": "198.51.100.1", "via_header": False, "hops": 0, "proto": None}
        # a different value from the same peer is not confused with the first one
        assert (await json_of(await svc.serve(xff("192.0.2.1"))))["client"] == "192.0.2.1"
        # no header at all: the trusted peer is the client
        bare = with_peer(Request("GET", "/"), "127.0.0.1")
        assert (await json_of(await svc.serve(bare)))["client"] == "127.0.0.1"
    # the extensions are the same immutable values every time
    seen: list[Forwarded | None] = []

    async def keep(req: Request) -> Response:
        seen.append(req.extensions.get(Forwarded))
        return Response.empty()

    svc2 = ForwardedLayer().layer(service_fn(keep))
    await svc2.serve(xff("203.0.113.9"))
    await svc2.serve(xff("203.0.113.9"))
    assert seen[0] is not None
    assert seen[0] == seen[1]


async def test_invalid_headers_are_not_cached_and_still_rejected() -> None:
    strict = ForwardedLayer(reject_invalid=True).layer(service_fn(report))
    lenient = ForwardedLayer().layer(service_fn(report))
    for _ in range(3):
        req = with_peer(Request("GET", "/", headers=[("Forwarded", "for=[bad")]), "127.0.0.1")
        assert int((await strict.serve(req)).status) == 400
        req = with_peer(
            Request("GET", "/", headers=[("Forwarded", "for=[bad"), ("X-Real-IP", "9.9.9.9")]),
            "127.0.0.1",
        )
        assert (await json_of(await lenient.serve(req)))["client"] == "9.9.9.9"
    assert not strict._outcomes
    assert not lenient._outcomes


async def test_caches_are_bounded() -> None:
    from pyrama_http.layer._forwarded import _CACHE_MAX

    svc = ForwardedLayer().layer(service_fn(report))
    for i in range(_CACHE_MAX + 10):
        req = with_peer(
            Request("GET", "/", headers=[("X-Forwarded-For", f"10.{i // 256}.{i % 256}.1")]),
            "127.0.0.1",
            1000 + i,
        )
        got = await json_of(await svc.serve(req))
        assert got["client"] == f"10.{i // 256}.{i % 256}.1"
    assert len(svc._peers) <= _CACHE_MAX
    assert len(svc._outcomes) <= _CACHE_MAX
