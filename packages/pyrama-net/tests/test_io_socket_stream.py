"""Regression tests for SocketStream fixes made for the bridge (both event loops)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import uvloop

from pyrama_net import SocketInfo, open_socket_stream

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_open_socket_stream_works_on_both_loops(loop_name: str) -> None:
    # uvloop's transports are not asyncio.Transport subclasses; this used to fail an assert
    async def main() -> None:
        left, right = socket.socketpair()
        try:
            stream = await open_socket_stream(left)
            assert stream.extensions.get(SocketInfo) is not None
            right.sendall(b"hi")
            assert await stream.read() == b"hi"
            await stream.close()
        finally:
            right.close()

    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as r:
        r.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_drain_after_abort_while_paused_does_not_hang(loop_name: str) -> None:
    async def main() -> None:
        left, right = socket.socketpair()
        try:
            stream = await open_socket_stream(left)
            chunk = b"x" * (1 << 20)
            # the peer never reads: fill the kernel buffers and our queue until writing pauses
            for _ in range(64):
                stream.write(chunk)
                if stream.transport.get_write_buffer_size() > 0:
                    break
            stream.abort()  # connection_lost(None) while paused: no resume_writing will come
            await asyncio.sleep(0.01)
            await asyncio.wait_for(stream.drain(), 5)
            await asyncio.wait_for(stream.close(), 5)
        finally:
            right.close()

    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as r:
        r.run(asyncio.wait_for(main(), 30))
