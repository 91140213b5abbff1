"""SNI passthrough relays with splice; a route that terminates TLS relays buffered.

``os.splice`` is wrapped with a byte counter. A byte relayed with splice passes two calls
(socket -> pipe, pipe -> socket), so a passthrough relay must show exactly
``2 * (relayed - ClientHello bytes the router peeked)``: the peeked ClientHello goes to the
backend from the buffer first, every later byte (the rest of the handshake and all
application data, both ways) through the kernel. A route that terminates TLS bridges a
:class:`~pyrama_tls.TlsStream`, which cannot give its socket away: no splice call at all, and
16 MiB each way must still arrive intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyrama_core import Service, service_fn
from pyrama_net import BridgeStats, BufferedStream, Stream, bridge, open_socket_stream
from pyrama_testing import SpliceCounter, count_splices, needs_splice
from pyrama_tls import (
    CertificateAuthority,
    SniRouter,
    TlsAcceptorData,
    TlsAcceptorLayer,
    TlsStream,
)

BULK = 16 << 20
GUARD = 60.0

# os.splice is Linux-only; under CI (Linux) these run, and fail if splice is missing
pytestmark = needs_splice


@pytest.fixture
def spliced(monkeypatch: pytest.MonkeyPatch) -> SpliceCounter:
    """Count every ``os.splice`` call and the bytes it moved (the relay looks it up per use)."""
    return count_splices(monkeypatch)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("passthrough-pki")
    ca = CertificateAuthority.generate("passthrough test CA")
    leaf = ca.issue_leaf(["pass.test"])
    paths = {"ca": d / "ca.pem", "cert": d / "pass.pem", "key": d / "pass.key"}
    paths["ca"].write_bytes(ca.cert_pem())
    paths["cert"].write_bytes(leaf.chain_pem())
    paths["key"].write_bytes(leaf.key_pem())
    return paths


# -- bulk traffic -----------------------------------------------------------------------------


def _chunks(seed: int, size: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    left = size
    while left:
        n = min(left, 1 << 20)
        out.append(rnd.randbytes(n))
        left -= n
    return out


@dataclass
class Traffic:
    """What one end sent and received."""

    sent: str = ""
    received: str = ""
    received_count: int = 0


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seed: int, size: int
) -> Traffic:
    """Send *size* random bytes while reading *size* bytes; hash both.

    Both ends know the size: asyncio's TLS transports cannot half-close.
    """
    t = Traffic()

    async def send() -> None:
        h = hashlib.sha256()
        for chunk in _chunks(seed, size):
            h.update(chunk)
            writer.write(chunk)
            await writer.drain()
        t.sent = h.hexdigest()

    async def receive() -> None:
        h = hashlib.sha256()
        while t.received_count < size:
            chunk = await reader.read(min(1 << 18, size - t.received_count))
            if not chunk:
                break
            h.update(chunk)
            t.received_count += len(chunk)
        t.received = h.hexdigest()

    await asyncio.gather(send(), receive())
    return t


def _hash_of(seed: int, size: int) -> str:
    h = hashlib.sha256()
    for chunk in _chunks(seed, size):
        h.update(chunk)
    return h.hexdigest()


# -- peers ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ssl_ctx: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _bulk_backend(results: list[Traffic], seed: int) -> Callable[..., Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            results.append(await _exchange(reader, writer, seed, BULK))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return handle


async def _upstream(port: int) -> Stream:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return await open_socket_stream(sock)


@contextlib.asynccontextmanager
async def _router_server(router: Service[Stream, None]) -> AsyncIterator[tuple[int, list[Any]]]:
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
            await asyncio.wait_for(asyncio.gather(*tasks), GUARD)
    finally:
        acceptor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acceptor
        ls.close()


# -- tests ------------------------------------------------------------------------------------


async def test_passthrough_splices_everything_after_the_client_hello(
    pki: dict[str, Path], spliced: SpliceCounter
) -> None:
    stats: list[BridgeStats] = []
    peeked: list[int] = []
    backend: list[Traffic] = []

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pki["cert"], pki["key"])
    async with _server(_bulk_backend(backend, seed=2), server_ctx) as backend_port:

        async def passthrough(stream: Stream) -> None:
            assert isinstance(stream, BufferedStream)
            peeked.append(stream.buffered())  # the ClientHello, not yet relayed
            stats.append(await bridge(stream, await _upstream(backend_port)))

        router: SniRouter[None] = SniRouter({"pass.test": service_fn(passthrough)})
        async with _router_server(router) as (port, errors):
            client_ctx = ssl.create_default_context(cafile=str(pki["ca"]))
            async with asyncio.timeout(GUARD):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=client_ctx, server_hostname="pass.test"
                )
                try:
                    client = await _exchange(reader, writer, seed=1, size=BULK)
                finally:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
        assert errors == []

    assert len(backend) == 1
    assert client.received_count == backend[0].received_count == BULK
    assert backend[0].received == client.sent == _hash_of(1, BULK)
    assert client.received == backend[0].sent == _hash_of(2, BULK)
    (s,) = stats
    assert s.zero_copy
    assert s.a_to_b > BULK
    assert s.b_to_a > BULK
    # the peeked ClientHello went from the buffer, every other byte both ways by splice
    assert peeked[0] > 0
    assert spliced.moved == 2 * (s.a_to_b - peeked[0] + s.b_to_a)


async def test_terminating_route_relays_buffered_16mib_both_ways(
    pki: dict[str, Path], spliced: SpliceCounter
) -> None:
    stats: list[BridgeStats] = []
    backend: list[Traffic] = []

    async with _server(_bulk_backend(backend, seed=4)) as backend_port:  # plain backend

        async def to_plain(stream: Stream) -> None:
            assert isinstance(stream, TlsStream)
            stats.append(await bridge(stream, await _upstream(backend_port)))

        acceptor = TlsAcceptorLayer(TlsAcceptorData.from_pem_files(pki["cert"], pki["key"]))
        router: SniRouter[None] = SniRouter({"pass.test": acceptor.layer(service_fn(to_plain))})
        async with _router_server(router) as (port, errors):
            client_ctx = ssl.create_default_context(cafile=str(pki["ca"]))
            async with asyncio.timeout(GUARD):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=client_ctx, server_hostname="pass.test"
                )
                try:
                    client = await _exchange(reader, writer, seed=3, size=BULK)
                finally:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
        assert errors == []

    assert len(backend) == 1
    assert client.received_count == backend[0].received_count == BULK
    assert backend[0].received == client.sent == _hash_of(3, BULK)
    assert client.received == backend[0].sent == _hash_of(4, BULK)
    (s,) = stats
    assert not s.zero_copy
    assert (s.a_to_b, s.b_to_a) == (BULK, BULK)  # plaintext counted on the TLS side
    assert spliced.calls == 0


def test_passthrough_on_uvloop(pki: dict[str, Path], spliced: SpliceCounter) -> None:
    # the CLI's loop: the same exact byte split (ClientHello by send, the rest by splice)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test_passthrough_splices_everything_after_the_client_hello(pki, spliced))
