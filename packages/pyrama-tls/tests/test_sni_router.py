from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pyrama_core import Service, service_fn
from pyrama_core.errors import ConfigError
from pyrama_net import BridgeStats, Stream, bridge, open_socket_stream
from pyrama_net._splice import SPLICE_AVAILABLE
from pyrama_testing import MockStream, mock_stream_pair, require_peer
from pyrama_tls import (
    CertificateAuthority,
    ClientHello,
    ClientHelloExtension,
    SniRoute,
    SniRouter,
    encode_client_hello,
    ja4,
)
from pyrama_tls.errors import ClientHelloError, NoSniRouteError, NotTlsError


def _name(label: str) -> Service[Stream, str]:
    async def serve(stream: Stream) -> str:
        return label

    return service_fn(serve)


A, B, C, D, DEFAULT, NO_SNI = (_name(x) for x in ("a", "b", "c", "d", "default", "no_sni"))


def _router(**kw: Any) -> SniRouter[str]:
    kw.setdefault("default", DEFAULT)
    return SniRouter(
        {
            "a.test": A,
            "*.wild.test": B,
            "*.deep.wild.test": C,
            ".apex.test": D,
        },
        **kw,
    )


def _label(router: SniRouter[str], sni: str | None) -> str | None:
    hit = router.select(sni)
    return None if hit is None else hit[0]


def test_select_exact_wildcards_and_fallbacks() -> None:
    r = _router(no_sni=NO_SNI)
    assert _label(r, "a.test") == "a.test"
    assert _label(r, "A.TEST.") == "a.test"
    assert _label(r, "x.a.test") == "default"
    assert _label(r, "x.wild.test") == "*.wild.test"
    assert _label(r, "x.y.wild.test") == "*.wild.test"
    assert _label(r, "wild.test") == "default"  # '*.' is strictly below
    assert _label(r, "x.deep.wild.test") == "*.deep.wild.test"  # the longer wildcard wins
    assert _label(r, "deep.wild.test") == "*.wild.test"
    assert _label(r, "apex.test") == ".apex.test"
    assert _label(r, "x.y.apex.test") == ".apex.test"
    assert _label(r, "badwild.test") == "default"
    assert _label(r, "127.0.0.1") == "default"  # not a domain
    assert _label(r, "bad_name!") == "default"
    assert _label(r, None) == "no_sni"
    assert _label(_router(), None) == "default"
    assert _router(default=None).select("nope.test") is None
    assert _router(default=None).select(None) is None
    assert r.patterns == ("a.test", "*.wild.test", "*.deep.wild.test", ".apex.test")
    assert "a.test" in repr(r)


def test_exact_beats_wildcard_and_pairs_are_accepted() -> None:
    r: SniRouter[str] = SniRouter([("*.x.test", A), ("b.x.test", B)])
    assert _label(r, "b.x.test") == "b.x.test"
    assert _label(r, "c.x.test") == "*.x.test"


def test_unicode_patterns_match_a_labels() -> None:
    r: SniRouter[str] = SniRouter({"bücher.example": A})
    assert _label(r, "xn--bcher-kva.example") == "bücher.example"


@pytest.mark.parametrize(
    ("routes", "match"),
    [
        ({"a.*.test": A}, "only allowed"),
        ({"*": A}, "SNI pattern"),
        ({"*.": A}, "SNI pattern"),
        ({"": A}, "SNI pattern"),
        ({"a..test": A}, "SNI pattern"),
        ([("a.test", A), ("A.test.", B)], "duplicates"),
        ([(1, A)], "must be a str"),
    ],
)
def test_bad_patterns(routes: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SniRouter(routes)


def test_bad_peek_timeout() -> None:
    with pytest.raises(ConfigError, match="peek_timeout"):
        SniRouter({}, peek_timeout=0)


# ---------------------------------------------------------------------------------------------
# serving over in-memory streams
def _hello_bytes(sni: str | None) -> bytes:
    exts = [ClientHelloExtension.supported_versions([0x0304])]
    if sni is not None:
        exts.insert(0, ClientHelloExtension.server_name(sni))
    return encode_client_hello(ClientHello(cipher_suites=(0x1301,), extensions=tuple(exts)))


async def _read_all(s: Stream) -> bytes:
    out = bytearray()
    while chunk := await s.read():
        out += chunk
    return bytes(out)


class _Recorder:
    """A service that records what it got: label, all bytes, and the extensions' facts."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.seen: list[tuple[bytes, ClientHello | None, SniRoute | None]] = []

    async def serve(self, stream: Stream) -> str:
        data = await _read_all(stream)
        self.seen.append(
            (data, stream.extensions.get(ClientHello), stream.extensions.get(SniRoute))
        )
        return self.label


def _pipe(data: bytes, *, eof: bool = True) -> tuple[MockStream, MockStream]:
    x, y = mock_stream_pair()
    y.write(data)
    if eof:
        y.write_eof()
    return x, y


async def test_serve_dispatches_the_whole_stream() -> None:
    rec = _Recorder("a")
    router: SniRouter[str] = SniRouter({"*.test": rec}, default=DEFAULT)
    wire = _hello_bytes("one.test") + b"\x17\x03\x03\x00\x01z"
    x, _ = _pipe(wire)
    assert await router.serve(x) == "a"
    data, ch, route = rec.seen[0]
    assert data == wire
    assert ch is not None
    assert ch.server_name == "one.test"
    assert route == SniRoute("*.test", "one.test")


async def test_no_sni_and_default() -> None:
    rec = _Recorder("no_sni")
    router: SniRouter[str] = SniRouter({"a.test": A}, default=DEFAULT, no_sni=rec)
    x, _ = _pipe(_hello_bytes(None))
    assert await router.serve(x) == "no_sni"
    assert rec.seen[0][2] == SniRoute("no_sni", None)
    x, _ = _pipe(_hello_bytes("other.test"))
    assert await router.serve(x) == "default"


async def test_plain_traffic_goes_to_not_tls() -> None:
    rec = _Recorder("plain")
    router: SniRouter[str] = SniRouter({"a.test": A}, not_tls=rec)
    x, _ = _pipe(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    assert await router.serve(x) == "plain"
    data, ch, route = rec.seen[0]
    assert data == b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
    assert ch is None
    assert route == SniRoute("not_tls", None)


async def test_plain_traffic_without_not_tls_closes_and_raises() -> None:
    router: SniRouter[str] = SniRouter({"a.test": A}, default=DEFAULT)
    x, y = _pipe(b"SSH-2.0-x\r\n", eof=False)
    with pytest.raises(NotTlsError, match="no not_tls service"):
        await router.serve(x)
    assert x.is_closing()
    assert await y.read() == b""


async def test_no_route_closes_and_raises() -> None:
    router: SniRouter[str] = SniRouter({"a.test": A})
    x, _ = _pipe(_hello_bytes("b.test"), eof=False)
    with pytest.raises(NoSniRouteError, match=r"'b\.test'") as ei:
        await router.serve(x)
    assert ei.value.server_name == "b.test"
    assert x.is_closing()
    x, _ = _pipe(_hello_bytes(None), eof=False)
    with pytest.raises(NoSniRouteError, match="no SNI"):
        await router.serve(x)


async def test_peek_errors_close_and_propagate() -> None:
    router: SniRouter[str] = SniRouter({"a.test": A}, default=DEFAULT)
    x, _ = _pipe(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", eof=False)
    with pytest.raises(ClientHelloError):
        await router.serve(x)
    assert x.is_closing()
    x, _ = _pipe(_hello_bytes("a.test"), eof=False)
    small: SniRouter[str] = SniRouter({"a.test": A}, max_size=20)
    with pytest.raises(ClientHelloError, match="exceeds the limit of 20"):
        await small.serve(x)
    assert x.is_closing()


async def test_peek_timeout_closes_and_raises() -> None:
    router: SniRouter[str] = SniRouter({"a.test": A}, peek_timeout=0.05)
    x, _ = _pipe(_hello_bytes("a.test")[:10], eof=False)
    with pytest.raises(TimeoutError):
        await router.serve(x)
    assert x.is_closing()


# ---------------------------------------------------------------------------------------------
# real TLS over loopback: passthrough to TLS backends with bridge
@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sni-pki")
    ca = CertificateAuthority.generate("sni router test CA")
    paths = {"ca": d / "ca.pem"}
    paths["ca"].write_bytes(ca.cert_pem())
    for name, names in (("a", ["a.test"]), ("b", ["*.b.test", "x.test"])):
        leaf = ca.issue_leaf(names)
        (d / f"{name}.pem").write_bytes(leaf.chain_pem())
        (d / f"{name}.key").write_bytes(leaf.key_pem())
        paths[name] = d / f"{name}.pem"
        paths[f"{name}_key"] = d / f"{name}.key"
    return paths


@contextlib.asynccontextmanager
async def _tls_backend(label: str, cert: Path, key: Path) -> AsyncIterator[int]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await reader.read(1024)
            writer.write(label.encode() + b":" + data)
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _passthrough(port: int, stats: list[BridgeStats]) -> Service[Stream, None]:
    async def serve(stream: Stream) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        upstream = await open_socket_stream(sock)
        stats.append(await bridge(stream, upstream))

    return service_fn(serve)


@contextlib.asynccontextmanager
async def _router_server(router: SniRouter[Any]) -> AsyncIterator[tuple[int, list[BaseException]]]:
    loop = asyncio.get_running_loop()
    ls = socket.create_server(("127.0.0.1", 0))
    ls.setblocking(False)
    errors: list[BaseException] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(conn: socket.socket) -> None:
        try:
            await router.serve(await open_socket_stream(conn))
        except Exception as exc:
            errors.append(exc)

    async def accept_loop() -> None:
        while True:
            conn, _ = await loop.sock_accept(ls)
            t = asyncio.create_task(one(conn))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    acceptor = asyncio.create_task(accept_loop())
    try:
        yield ls.getsockname()[1], errors
        if tasks:
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        acceptor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acceptor
        ls.close()


async def _tls_request(port: int, sni: str, ca: Path) -> bytes:
    ctx = ssl.create_default_context(cafile=str(ca))
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=sni)
    try:
        writer.write(b"hello")
        await writer.drain()
        return await reader.read(1024)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def test_loopback_passthrough_routes_real_tls_by_sni(pki: dict[str, Path]) -> None:
    stats: list[BridgeStats] = []
    seen: list[ClientHello] = []

    async with (
        _tls_backend("A", pki["a"], pki["a_key"]) as port_a,
        _tls_backend("B", pki["b"], pki["b_key"]) as port_b,
    ):
        pass_a, pass_b = _passthrough(port_a, stats), _passthrough(port_b, stats)

        async def to_b(stream: Stream) -> None:
            ch = stream.extensions.get(ClientHello)
            assert ch is not None
            seen.append(ch)
            await pass_b.serve(stream)

        router: SniRouter[None] = SniRouter(
            {"a.test": pass_a, "*.b.test": service_fn(to_b)}, default=pass_b
        )
        async with _router_server(router) as (port, errors):
            assert await _tls_request(port, "a.test", pki["ca"]) == b"A:hello"
            assert await _tls_request(port, "one.b.test", pki["ca"]) == b"B:hello"
            assert await _tls_request(port, "x.test", pki["ca"]) == b"B:hello"  # default
        assert errors == []
    assert [ch.server_name for ch in seen] == ["one.b.test"]
    assert ja4(seen[0]).ja4.startswith("t13d")
    assert len(stats) == 3
    assert all(s.zero_copy == SPLICE_AVAILABLE for s in stats)
    assert all(s.a_to_b > 0 and s.b_to_a > 0 for s in stats)


async def test_openssl_s_client_through_the_router(pki: dict[str, Path]) -> None:
    openssl = require_peer("openssl")
    stats: list[BridgeStats] = []
    seen: list[str | None] = []

    async with _tls_backend("B", pki["b"], pki["b_key"]) as port_b:
        pass_b = _passthrough(port_b, stats)

        async def record(stream: Stream) -> None:
            ch = stream.extensions.get(ClientHello)
            seen.append(None if ch is None else ch.server_name)
            await pass_b.serve(stream)

        router: SniRouter[None] = SniRouter({"x.test": service_fn(record)})
        async with _router_server(router) as (port, errors):
            proc = await asyncio.create_subprocess_exec(
                openssl,
                "s_client",
                "-connect",
                f"127.0.0.1:{port}",
                "-servername",
                "x.test",
                "-CAfile",
                str(pki["ca"]),
                "-verify_return_error",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert errors == []
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "Verify return code: 0 (ok)" in text
    assert seen == ["x.test"]
    assert stats
    assert stats[0].a_to_b > 0
