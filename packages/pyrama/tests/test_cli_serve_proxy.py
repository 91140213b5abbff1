"""``pyrama serve proxy`` pieces and ``pyrama send -x/-U``, in process (hermetic)."""

from __future__ import annotations

import argparse
import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import serving
from test_cli_serve_tcp import connect, recv_exact

from pyrama.cli._send import SendError, _proxy
from pyrama.cli._serve_proxy import (
    _GC_GEN0_THRESHOLD,
    FixedUpstreamLayer,
    ProtocolSniffer,
    UpstreamNotFoundLayer,
    _credentials,
    _socks5_authorizer,
    _tune_gc,
    _Upstreams,
    _upstreams,
)
from pyrama_core import service_fn
from pyrama_core.errors import ConfigError
from pyrama_http_types import Request, Response
from pyrama_net import Basic, ProxyAddress, Stream
from pyrama_proxy import MemoryProxyDB, Proxy, ProxyFilter, ProxyNotFoundError
from pyrama_testing import mock_stream_pair
from pyrama_testing import silent_port as hanging_port


class Recorder:
    """A stream service that records the first bytes it reads."""

    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def serve(self, stream: Stream, /) -> None:
        data = b""
        while chunk := await stream.read(100):
            data += chunk
        self.got.append(data)


@pytest.mark.parametrize(
    ("first", "which"),
    [(b"\x05\x01\x00", "socks5"), (b"CONNECT a:1 HTTP/1.1\r\n", "http"), (b"\x04\x01", "http")],
)
async def test_sniffer_routes_by_first_byte_and_replays_it(first: bytes, which: str) -> None:
    http, socks5 = Recorder(), Recorder()
    client, server = mock_stream_pair()
    client.write(first)
    client.write_eof()
    await asyncio.wait_for(ProtocolSniffer(http, socks5).serve(server), 5)
    chosen, other = (socks5, http) if which == "socks5" else (http, socks5)
    assert chosen.got == [first]
    assert other.got == []


async def test_sniffer_closes_a_silent_connection() -> None:
    http, socks5 = Recorder(), Recorder()
    client, server = mock_stream_pair()
    client.write_eof()
    await asyncio.wait_for(ProtocolSniffer(http, socks5).serve(server), 5)
    assert http.got == socks5.got == []
    assert await asyncio.wait_for(client.read(10), 5) == b""


async def _seen_proxy(request: Request) -> Response:
    proxy = request.extensions.get(ProxyAddress)
    return Response.text("none" if proxy is None else str(proxy))


async def test_fixed_upstream_only_when_none_chosen() -> None:
    fixed = ProxyAddress.parse("socks5h://127.0.0.1:1080")
    svc = FixedUpstreamLayer(fixed).layer(service_fn(_seen_proxy))
    resp = await svc.serve(Request("GET", "http://a/"))
    assert await resp.body.collect() == b"socks5h://127.0.0.1:1080"
    chosen = Request("GET", "http://a/")
    chosen.extensions.insert(ProxyAddress.parse("http://127.0.0.1:3128"))
    resp = await svc.serve(chosen)
    assert await resp.body.collect() == b"http://127.0.0.1:3128"


async def test_no_upstream_is_503() -> None:
    async def refuse(request: Request) -> Response:
        raise ProxyNotFoundError("nothing")

    resp = await UpstreamNotFoundLayer().layer(service_fn(refuse)).serve(Request("GET", "/"))
    assert int(resp.status) == 503


def test_credentials_validation() -> None:
    assert _credentials(["john:secret", "ann:"]) == (Basic("john", "secret"), Basic("ann", ""))
    for bad in ("nocolon", ":pw", "jo-hn:pw"):
        with pytest.raises(ConfigError):
            _credentials([bad])


def _db() -> MemoryProxyDB:
    return MemoryProxyDB(
        [
            Proxy(id="us", address=ProxyAddress.parse("http://127.0.0.1:1"), country="us"),
            Proxy(id="de", address=ProxyAddress.parse("socks5h://127.0.0.1:2"), country="de"),
        ]
    )


async def test_upstream_pick() -> None:
    fixed = ProxyAddress.parse("http://127.0.0.1:9")
    db = _db()
    assert await _Upstreams(None, None).pick(ProxyFilter(country=("us",))) is None
    assert await _Upstreams(None, fixed).pick(None) == fixed
    de = await _Upstreams(db, fixed).pick(ProxyFilter(country=("de",)))
    assert de == ProxyAddress.parse("socks5h://127.0.0.1:2")
    # with a fixed upstream, no labels means the fixed one; without, any proxy of the list
    assert await _Upstreams(db, fixed).pick(None) == fixed
    assert await _Upstreams(db, None).pick(None) in [p.address for p in db.proxies]
    with pytest.raises(ProxyNotFoundError):
        await _Upstreams(db, fixed).pick(ProxyFilter(country=("fr",)))


async def test_socks5_authorizer_parses_labels() -> None:
    authorize = _socks5_authorizer((Basic("john", "secret"),))
    assert await authorize(Basic("john", "secret")) is True
    assert await authorize(Basic("john-country-us", "secret")) == ProxyFilter(country=("us",))
    assert await authorize(Basic("john-country-us", "wrong")) is False
    assert await authorize(Basic("john-bogus", "secret")) is False
    assert await authorize(Basic("ann", "secret")) is False


def _args(**kwargs: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "proxy": None,
        "proxy_user": None,
        "proxy_db": None,
        "upstream": None,
    }
    base.update(kwargs)
    return argparse.Namespace(**base)


def test_upstreams_from_flags(tmp_path: Path) -> None:
    db_file = tmp_path / "p.csv"
    db_file.write_text("id,address,country\nus,127.0.0.1:3128,us\n")
    ups = _upstreams(_args(proxy_db=str(db_file), upstream="socks5://127.0.0.1:1080"))
    assert ups.db is not None
    assert len(ups.db) == 1
    assert ups.fixed == ProxyAddress.parse("socks5://127.0.0.1:1080")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,address\nx,nope:nope\n")
    with pytest.raises(ConfigError, match="line 2"):
        _upstreams(_args(proxy_db=str(bad)))
    empty = tmp_path / "empty.csv"
    empty.write_text("id,address\n")
    with pytest.raises(ConfigError, match="no proxies"):
        _upstreams(_args(proxy_db=str(empty)))
    with pytest.raises(ConfigError, match="--upstream"):
        _upstreams(_args(upstream="ftp://127.0.0.1:21"))
    with pytest.raises(ConfigError, match="--upstream"):
        _upstreams(_args(upstream="http://127.0.0.1:3128/path"))


def test_send_proxy_flags() -> None:
    assert _proxy(_args()) is None
    assert _proxy(_args(proxy="127.0.0.1:3128")) == ProxyAddress.parse("http://127.0.0.1:3128")
    with_user = _proxy(_args(proxy="socks5h://127.0.0.1", proxy_user="john-country-us:pw"))
    assert with_user == ProxyAddress.parse("socks5h://john-country-us:pw@127.0.0.1:1080")
    # -U wins over credentials in the URL; a user without ':' has an empty password
    assert _proxy(_args(proxy="http://a:b@127.0.0.1:1", proxy_user="c")) == ProxyAddress(
        ProxyAddress.parse("http://127.0.0.1:1").protocol,
        ProxyAddress.parse("http://127.0.0.1:1").authority,
        Basic("c", ""),
    )
    for kwargs, code in (
        ({"proxy_user": "a:b"}, 2),
        ({"proxy": "ftp://127.0.0.1:21"}, 5),
        ({"proxy": "http://127.0.0.1:99999"}, 5),
        ({"proxy": "127.0.0.1:1", "proxy_user": "a\x01:b"}, 2),
    ):
        with pytest.raises(SendError) as info:
            _proxy(_args(**kwargs))
        assert info.value.code == code, kwargs


def test_startup_objects_are_frozen_and_young_collections_spaced() -> None:
    before = gc.get_freeze_count()
    threshold = gc.get_threshold()
    marker = [object()]  # a tracked container made "at startup"
    try:
        gc.set_threshold(700, threshold[1], threshold[2])
        _tune_gc()
        assert gc.get_freeze_count() > before
        # frozen: out of the collector's sight
        assert not any(o is marker for o in gc.get_objects())
        assert gc.get_threshold() == (_GC_GEN0_THRESHOLD, threshold[1], threshold[2])
        gc.set_threshold(0)  # switched off: stays off
        _tune_gc()
        assert gc.get_threshold()[0] == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert any(o is marker for o in gc.get_objects())


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose accept queue is full: further SYNs are dropped, so connects hang."""
    with hanging_port() as port:
        yield port


def test_connect_timeout_bounds_connect_tunnels_and_socks5(silent_port: int) -> None:
    """--connect-timeout: CONNECT gets 504, SOCKS5 reply 0x06 (TTL expired), in time."""
    with serving("proxy", "127.0.0.1:0", "--socks5", "--connect-timeout", "0.3") as px:
        with connect(px.port) as s:
            s.sendall(f"CONNECT 127.0.0.1:{silent_port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = recv_exact(s, 12)
            assert head == b"HTTP/1.1 504"
        with connect(px.port) as s:
            s.sendall(b"\x05\x01\x00")
            assert recv_exact(s, 2) == b"\x05\x00"
            s.sendall(b"\x05\x01\x00\x01\x7f\x00\x00\x01" + silent_port.to_bytes(2, "big"))
            reply = recv_exact(s, 2)
            assert reply == b"\x05\x06"
