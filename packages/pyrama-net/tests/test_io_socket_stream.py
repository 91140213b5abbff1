"""Regression tests for SocketStream fixes made for the bridge (both event loops)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import uvloop

from pyrama_net import SocketInfo, SocketStream, SocketStreamProtocol, open_socket_stream

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


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_take_stream_hands_the_stream_over_once(loop_name: str) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        try:
            proto = SocketStreamProtocol(loop)
            with pytest.raises(RuntimeError):
                proto.take_stream()  # not connected yet
            left.setblocking(False)
            await loop.connect_accepted_socket(lambda: proto, left)
            stream = proto.take_stream()
            assert isinstance(stream, SocketStream)
            assert proto.stream is None
            with pytest.raises(RuntimeError):
                proto.take_stream()  # already taken
            right.sendall(b"still works")
            assert await stream.read() == b"still works"
            await stream.close()
        finally:
            right.close()

    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as r:
        r.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_is_closed_once_the_transport_let_go(loop_name: str) -> None:
    async def main() -> None:
        left, right = socket.socketpair()
        try:
            stream = await open_socket_stream(left)
            assert not stream.is_closed()
            closing = asyncio.ensure_future(stream.close())
            await asyncio.sleep(0)
            assert stream.is_closing()
            await closing
            assert stream.is_closed()
            await stream.close()  # idempotent, returns at once
            assert right.recv(10) == b""
        finally:
            right.close()

    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as r:
        r.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_detach_lets_the_transport_go_but_keeps_the_connection(loop_name: str) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        right.setblocking(False)
        try:
            stream = await open_socket_stream(left)
            right.sendall(b"early")
            for _ in range(1000):  # bounded wait for the bytes to reach the protocol buffer
                if stream.buffered() >= 5:
                    break
                await asyncio.sleep(0.001)
            stream.write(b"queued before the detach")
            res = await stream.detach_socket()
            assert res is not None
            sock, leftover = res
            try:
                assert leftover == b"early"
                assert stream.is_closing()
                await asyncio.sleep(0)
                assert stream.is_closed()  # close() has nothing left to wait for
                await stream.close()
                # the connection itself is alive, through the duplicate
                assert await loop.sock_recv(right, 100) == b"queued before the detach"
                await loop.sock_sendall(sock, b"via dup")
                assert await loop.sock_recv(right, 100) == b"via dup"
                await loop.sock_sendall(right, b"back")
                assert await loop.sock_recv(sock, 100) == b"back"
            finally:
                sock.close()
            assert await loop.sock_recv(right, 100) == b""  # last descriptor closed: EOF
        finally:
            right.close()

    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as r:
        r.run(asyncio.wait_for(main(), 30))
