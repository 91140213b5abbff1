"""Which relay a tunnel takes, with real peers at both ends.

* L4 forward (``pyrama serve forward``) between plain sockets: splice, as its debug line says,
  while curl fetches 16 MiB over TLS from ``openssl s_server`` through it.
* SNI passthrough (an :class:`~pyrama_tls.SniRouter` run here, in a thread): curl and
  ``openssl s_client`` -> router -> ``openssl s_server``. ``os.splice`` is wrapped with a byte
  counter: every byte but the peeked ClientHello passes it twice (socket -> pipe -> socket).
* A route that terminates TLS and relays plaintext to ``python -m http.server``: the buffered
  relay (no splice call at all), 16 MiB intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from itsupport import Peers, Running, Spawn, make_pki

from pyrama_core import Service, service_fn
from pyrama_net import BridgeStats, BufferedStream, Stream, bridge, open_socket_stream
from pyrama_testing import SpliceCounter, count_splices, free_port, needs_splice, require_peer
from pyrama_tls import SniRouter, TlsAcceptorData, TlsAcceptorLayer, TlsStream

BULK = 16 << 20
GUARD = 60.0

# os.splice is Linux-only; under CI (Linux) these run, and fail if splice is missing
pytestmark = needs_splice


@pytest.fixture
def spliced(monkeypatch: pytest.MonkeyPatch) -> SpliceCounter:
    """Count every ``os.splice`` call in this process and the bytes it moved."""
    return count_splices(monkeypatch)


@pytest.fixture
def www(tmp_path: Path) -> tuple[Path, str]:
    """A directory with a 16 MiB random file; its sha256."""
    root = tmp_path / "www"
    root.mkdir()
    data = os.urandom(BULK)
    (root / "big.bin").write_bytes(data)
    return root, hashlib.sha256(data).hexdigest()


def _s_server(spawn: Spawn, tmp_path: Path, root: Path, name: str) -> Running:
    """``openssl s_server -WWW`` serving *root* as *name*."""
    openssl = require_peer("openssl")
    pki = make_pki(tmp_path / "pki", [name])
    port = free_port()
    server = spawn(
        [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki.cert),
         "-key", str(pki.key), "-WWW"],
        ready=r"ACCEPT",
        cwd=root,
    )  # fmt: skip
    server.port = port
    return server


def _curl_hash(peers: Peers, name: str, port: int, path: str) -> str:
    body = peers.curl(
        f"https://{name}:{port}/{path}", "-k", "--resolve", f"{name}:{port}:127.0.0.1"
    )
    assert len(body) == BULK
    return hashlib.sha256(body).hexdigest()


# -- an in-process router, on a loop of its own ----------------------------------------------


@dataclass
class RouterThread:
    """A TCP server running *router* on an event loop in a thread; what its relays did."""

    port: int = 0
    stats: list[BridgeStats] = field(default_factory=list)
    peeked: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None


@contextlib.contextmanager
def _router_thread(
    make_router: Callable[[RouterThread], Service[Stream, None]],
) -> Iterator[RouterThread]:
    state = RouterThread()
    ready = threading.Event()
    stop: list[asyncio.Event] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        router = make_router(state)
        ls = socket.create_server(("127.0.0.1", 0))
        ls.setblocking(False)
        state.port = ls.getsockname()[1]
        state.loop = loop
        stopped = asyncio.Event()
        stop.append(stopped)
        tasks: set[asyncio.Task[None]] = set()

        async def one(conn: socket.socket) -> None:
            try:
                await router.serve(await open_socket_stream(conn))
            except Exception as exc:
                state.errors.append(exc)

        async def accept_loop() -> None:
            while True:
                conn, _ = await loop.sock_accept(ls)
                t = loop.create_task(one(conn))
                tasks.add(t)
                t.add_done_callback(tasks.discard)

        acceptor = loop.create_task(accept_loop())
        ready.set()
        await stopped.wait()
        acceptor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acceptor
        ls.close()
        if tasks:
            await asyncio.wait_for(asyncio.gather(*tasks), GUARD)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(GUARD)
    try:
        yield state
    finally:
        assert state.loop is not None
        state.loop.call_soon_threadsafe(stop[0].set)
        thread.join(GUARD)
        assert not thread.is_alive()


async def _connect(port: int) -> Stream:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return await open_socket_stream(sock)


def _passthrough_router(backend_port: int) -> Callable[[RouterThread], Service[Stream, None]]:
    def make(state: RouterThread) -> Service[Stream, None]:
        async def passthrough(stream: Stream) -> None:
            assert isinstance(stream, BufferedStream)
            state.peeked.append(stream.buffered())  # the ClientHello, not relayed yet
            state.stats.append(await bridge(stream, await _connect(backend_port)))

        return SniRouter({"pass.test": service_fn(passthrough)})

    return make


def _wait(cond: Callable[[], bool]) -> None:
    """Wait (bounded) for *cond*: a relay ends a moment after its client saw the last byte."""
    ev = threading.Event()
    for _ in range(int(GUARD * 100)):
        if cond():
            return
        ev.wait(0.01)
    raise AssertionError("condition never became true")


# -- tests ------------------------------------------------------------------------------------


def test_forward_between_plain_sockets_splices(
    spawn: Spawn, pyrama_cli: list[str], tmp_path: Path, www: tuple[Path, str], peers: Peers
) -> None:
    root, digest = www
    server = _s_server(spawn, tmp_path, root, "fwd.test")
    fwd = spawn(
        [*pyrama_cli, "serve", "forward", "-v", "--bind", "127.0.0.1:0",
         "--to", f"127.0.0.1:{server.port}"]
    )  # fmt: skip
    assert _curl_hash(peers, "fwd.test", fwd.port, "big.bin") == digest
    line = fwd.wait_for(r"forwarded.*")
    assert re.search(r"zero_copy=True", line.group(0)), line.group(0)
    down = re.search(r"down=(\d+)", line.group(0))
    assert down is not None, line.group(0)
    assert int(down.group(1)) > BULK


def test_sni_passthrough_splices_all_but_the_client_hello(
    spawn: Spawn, tmp_path: Path, www: tuple[Path, str], peers: Peers, spliced: SpliceCounter
) -> None:
    root, digest = www
    server = _s_server(spawn, tmp_path, root, "pass.test")
    with _router_thread(_passthrough_router(server.port)) as router:
        assert _curl_hash(peers, "pass.test", router.port, "big.bin") == digest
        text = peers.s_client(router.port, "-servername", "pass.test", data=b"")
        assert re.search(r"subject=CN ?= ?pass\.test", text), text  # the backend's own cert
        _wait(lambda: len(router.stats) == 2)
    assert router.errors == []
    assert all(s.zero_copy for s in router.stats)
    assert router.stats[0].b_to_a > BULK
    relayed = sum(s.a_to_b + s.b_to_a for s in router.stats)
    assert spliced.moved == 2 * (relayed - sum(router.peeked))


def test_terminating_route_relays_buffered_and_intact(
    spawn: Spawn, tmp_path: Path, www: tuple[Path, str], peers: Peers, spliced: SpliceCounter
) -> None:
    root, digest = www
    port = free_port()
    spawn(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready=r"Serving HTTP on 127\.0\.0\.1 port (?P<port>\d+)",
        cwd=root,
    )
    pki = make_pki(tmp_path / "pki", ["pass.test"])

    def make(state: RouterThread) -> Service[Stream, None]:
        async def to_plain(stream: Stream) -> None:
            assert isinstance(stream, TlsStream)
            state.stats.append(await bridge(stream, await _connect(port)))

        acceptor = TlsAcceptorLayer(TlsAcceptorData.from_pem_files(pki.cert, pki.key))
        return SniRouter({"pass.test": acceptor.layer(service_fn(to_plain))})

    with _router_thread(make) as router:
        # curl speaks HTTP/1.0-style close here: http.server closes after the response
        assert _curl_hash(peers, "pass.test", router.port, "big.bin") == digest
        _wait(lambda: len(router.stats) == 1)
    assert router.errors == []
    (s,) = router.stats
    assert not s.zero_copy
    assert s.b_to_a > BULK  # the plaintext response, head included
    assert spliced.calls == 0
