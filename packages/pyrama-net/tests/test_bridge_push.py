"""bridge(), push relay: plain socket streams relayed from the transports' callbacks.

With *splice_after* the relay starts on the protocols' receivers (no task, no detach) and
switches to splice once a direction moved that many bytes; without zero-copy it stays on
the receivers. Runs on asyncio's loop and on uvloop.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import uvloop
from net_socket_support import recv_all as _recv_all
from net_socket_support import recv_n as _recv_n
from net_socket_support import recv_stream as _recv_stream
from net_socket_support import send_stream as _send_stream

from pyrama_core.errors import ConfigError
from pyrama_net import BridgeError, SocketStream, bridge, open_socket_stream
from pyrama_net._bridge import _push_endpoint

T = TypeVar("T")

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Callable[[], Awaitable[T]]], T]:
    factory = LOOPS[request.param]

    def _run(fn: Callable[[], Awaitable[T]]) -> T:
        async def guarded() -> T:
            result = await asyncio.wait_for(fn(), 60)
            others = asyncio.all_tasks() - {asyncio.current_task()}
            assert not others, f"leaked tasks: {others}"
            return result

        with asyncio.Runner(loop_factory=factory) as r:
            return r.run(guarded())

    return _run


Runner = Callable[[Callable[[], Awaitable[Any]]], Any]


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as ls:
        c = socket.create_connection(ls.getsockname())
        s, _ = ls.accept()
    c.setblocking(False)
    return c, s


class Rig:
    """client <-> a ==bridge== b <-> server (client and server: raw non-blocking sockets)."""

    def __init__(self, client: socket.socket, server: socket.socket, a: Any, b: Any) -> None:
        self.client, self.server, self.a, self.b = client, server, a, b

    def close(self) -> None:
        self.client.close()
        self.server.close()


async def _rig() -> Rig:
    client, a_sock = _tcp_pair()
    b_sock, server = _tcp_pair()
    server.setblocking(False)
    return Rig(client, server, await open_socket_stream(a_sock), await open_socket_stream(b_sock))


class Transparent:
    """A wrapper that forwards every attribute (as the HTTP/1.1 server's KeptStream does)."""

    def __init__(self, inner: SocketStream) -> None:
        self.inner = inner
        self.closed = False

    async def close(self) -> None:
        await self.inner.close()
        self.closed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_small_exchange_stays_on_the_receivers(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        loop = asyncio.get_running_loop()
        try:
            before = asyncio.all_tasks()
            relay = asyncio.create_task(bridge(rig.a, rig.b, splice_after=1 << 16))
            await loop.sock_sendall(rig.client, b"ping")
            assert await _recv_n(rig.server, 4) == b"ping"
            await loop.sock_sendall(rig.server, b"pong!")
            assert await _recv_n(rig.client, 5) == b"pong!"
            assert asyncio.all_tasks() - before == {relay}  # no task per direction
            rig.client.shutdown(socket.SHUT_WR)
            assert await _recv_all(rig.server) == b""  # the EOF was passed on
            rig.server.shutdown(socket.SHUT_WR)
            assert await _recv_all(rig.client) == b""
            stats = await relay
        finally:
            rig.close()
        assert (stats.a_to_b, stats.b_to_a, stats.zero_copy) == (4, 5, False)
        assert rig.a.is_closed()
        assert rig.b.is_closed()

    run(main)


@pytest.mark.parametrize("zero_copy", [True, False], ids=["switches", "stays"])
def test_bulk_switches_to_splice_after_the_threshold(run: Runner, zero_copy: bool) -> None:
    up, down = 8 << 20, 3 << 20

    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(
                bridge(rig.a, rig.b, splice_after=1 << 16, zero_copy=zero_copy)
            )
            sent_up, sent_down, got_up, got_down = await asyncio.gather(
                _send_stream(rig.client, 1, up),
                _send_stream(rig.server, 2, down),
                _recv_stream(rig.server),
                _recv_stream(rig.client),
            )
            stats = await relay
        finally:
            rig.close()
        assert got_up == (up, sent_up)
        assert got_down == (down, sent_down)
        assert (stats.a_to_b, stats.b_to_a) == (up, down)
        assert stats.zero_copy is zero_copy

    run(main)


def test_bytes_buffered_before_the_relay_go_first(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(rig.client, b"early ")
            rig.client.shutdown(socket.SHUT_WR)
            for _ in range(1000):  # until the stream buffered it (and saw the EOF)
                if rig.a.at_eof() or rig.a.buffered() == 6:
                    break
                await asyncio.sleep(0.001)
            relay = asyncio.create_task(bridge(rig.a, rig.b, splice_after=1 << 16))
            assert await _recv_all(rig.server) == b"early "
            await loop.sock_sendall(rig.server, b"late")
            rig.server.shutdown(socket.SHUT_WR)
            assert await _recv_all(rig.client) == b"late"
            stats = await relay
        finally:
            rig.close()
        assert (stats.a_to_b, stats.b_to_a) == (6, 4)

    run(main)


def test_a_reset_fails_the_side_that_reset(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        loop = asyncio.get_running_loop()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, splice_after=1 << 16))
            await loop.sock_sendall(rig.server, b"x")
            assert await _recv_n(rig.client, 1) == b"x"
            rig.server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            rig.server.close()
            with pytest.raises(BridgeError) as info:
                await relay
        finally:
            rig.client.close()
        assert info.value.side == "b"
        assert isinstance(info.value.__cause__, ConnectionResetError)
        assert info.value.stats.b_to_a == 1
        assert rig.a.is_closed()
        assert rig.b.is_closed()

    run(main)


def test_cancelling_closes_both(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, splice_after=1 << 16))
            await asyncio.sleep(0.01)
            relay.cancel()
            with pytest.raises(asyncio.CancelledError):
                await relay
        finally:
            rig.close()
        assert rig.a.is_closed()
        assert rig.b.is_closed()
        assert rig.a._proto._receiver is None  # the relay's hooks are gone

    run(main)


def test_idle_timeout_ends_a_push_relay(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            with pytest.raises(BridgeError) as info:
                await bridge(rig.a, rig.b, splice_after=1 << 16, idle_timeout=0.05)
        finally:
            rig.close()
        assert info.value.side is None

    run(main)


def test_a_transparent_wrapper_is_relayed_and_closed(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        loop = asyncio.get_running_loop()
        wrapped = Transparent(rig.a)
        assert _push_endpoint(wrapped) is rig.a
        try:
            relay = asyncio.create_task(bridge(wrapped, rig.b, splice_after=1 << 16))
            await loop.sock_sendall(rig.client, b"hello")
            rig.client.shutdown(socket.SHUT_WR)
            assert await _recv_all(rig.server) == b"hello"
            rig.server.shutdown(socket.SHUT_WR)
            stats = await relay
        finally:
            rig.close()
        assert stats.a_to_b == 5
        assert wrapped.closed  # the wrapper's own close() ran

    run(main)


def test_splice_after_is_checked() -> None:
    async def main() -> None:
        a, b = socket.socketpair()
        with a, b:
            for bad in (-1, 1.5, True):
                with pytest.raises(ConfigError):
                    await bridge(a, b, splice_after=bad)  # type: ignore[arg-type]

    asyncio.run(main())
