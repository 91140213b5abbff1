"""SocketStream.at_eof: the peer's EOF or a lost connection, once the buffer is drained."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import uvloop

from pyrama_net import SocketStream, open_socket_stream

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


async def _until(pred: Callable[[], bool]) -> None:
    """Poll until *pred* holds (a generous hang guard, not a timing assertion)."""
    for _ in range(10_000):
        if pred():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition not reached")


async def _pair() -> tuple[SocketStream, socket.socket]:
    left, right = socket.socketpair()
    return await open_socket_stream(left), right


def _run(loop_name: str, main: Callable[[], object]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as r:
        r.run(asyncio.wait_for(main(), 30))  # type: ignore[arg-type]


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_at_eof_only_after_eof_and_drained_buffer(loop_name: str) -> None:
    async def main() -> None:
        stream, peer = await _pair()
        try:
            assert not stream.at_eof()
            peer.sendall(b"hello")
            await _until(lambda: stream.buffered() == 5)
            assert not stream.at_eof()  # data, no EOF yet
            peer.shutdown(socket.SHUT_WR)
            # the EOF arrives behind the bytes: still not "at EOF" while they are unread
            await asyncio.sleep(0.05)
            assert not stream.at_eof()
            assert await stream.read(3) == b"hel"
            assert not stream.at_eof()
            assert await stream.read() == b"lo"
            await _until(stream.at_eof)
            assert await stream.read() == b""
            assert stream.at_eof()
            # half-closed: our side can still write
            stream.write(b"bye")
            await stream.drain()
            assert peer.recv(16) == b"bye"
        finally:
            await stream.close()
            peer.close()

    _run(loop_name, main)


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_at_eof_when_the_peer_closes_an_idle_stream(loop_name: str) -> None:
    async def main() -> None:
        stream, peer = await _pair()
        try:
            assert not stream.at_eof()
            peer.close()
            # seen without anyone reading: what a pool checks on an idle connection
            await _until(stream.at_eof)
            assert await stream.read() == b""
        finally:
            await stream.close()

    _run(loop_name, main)


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_at_eof_after_a_reset_and_after_a_local_close(loop_name: str) -> None:
    async def main() -> None:
        stream, peer = await _pair()
        other, peer2 = await _pair()
        try:
            stream.abort()  # connection lost (with or without an error): nothing more comes
            await _until(stream.is_closed)
            assert stream.at_eof()
            assert not other.at_eof()
            await other.close()
            assert other.at_eof()
        finally:
            peer.close()
            peer2.close()

    _run(loop_name, main)
