"""Which relay a bridge takes: splice between plain sockets, buffered when one end cannot detach.

The path is observed, not inferred: ``os.splice`` is wrapped with a counter that sums the bytes
every call moved. A byte relayed with splice passes two calls (socket -> pipe, pipe -> socket),
so a spliced relay shows exactly ``2 * (relayed - replayed prefix)`` bytes there: the prefix
(bytes a peek or rewind already took off the socket) is sent from user space first, and
everything after it goes through the kernel.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop
from net_socket_support import send_stream as _send_random

from pyrama_net import (
    BytesTrackerStream,
    SocketStream,
    Stream,
    StreamWrapper,
    bridge,
    open_socket_stream,
    peek,
    rewind,
)
from pyrama_net._detach import detach_inner
from pyrama_testing import SpliceCounter, count_splices, needs_splice

BULK = 16 << 20
GUARD = 60.0

# os.splice is Linux-only; under CI (Linux) these run, and fail if splice is missing
pytestmark = needs_splice


@pytest.fixture
def spliced(monkeypatch: pytest.MonkeyPatch) -> SpliceCounter:
    """Count every ``os.splice`` call and the bytes it moved (the relay looks it up per use)."""
    return count_splices(monkeypatch)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as ls:
        c = socket.create_connection(ls.getsockname())
        s, _ = ls.accept()
    c.setblocking(False)
    s.setblocking(False)
    return c, s


@dataclass
class Rig:
    """client <-> a ==bridge== b <-> server; client and server are raw non-blocking sockets."""

    client: socket.socket
    server: socket.socket
    a: SocketStream
    b: SocketStream

    def close(self) -> None:
        self.client.close()
        self.server.close()


async def _rig() -> Rig:
    client, a_sock = _tcp_pair()
    b_sock, server = _tcp_pair()
    return Rig(client, server, await open_socket_stream(a_sock), await open_socket_stream(b_sock))


async def _until_detached(*streams: SocketStream) -> None:
    """Wait until the bridge has detached these socket streams (their transports are closed).

    Bytes sent before that may still be taken in by the stream's transport and then travel
    as leftover (by send), which would blur an exact splice byte count.
    """
    async with asyncio.timeout(GUARD):
        while not all(s.is_closing() for s in streams):  # noqa: ASYNC110 - no event for it
            await asyncio.sleep(0.001)


async def _recv_hash(sock: socket.socket, head: int = 0) -> tuple[int, str, bytes]:
    """Read to EOF: ``(count, sha256, first head bytes)``."""
    loop = asyncio.get_running_loop()
    h = hashlib.sha256()
    n = 0
    first = bytearray()
    buf = bytearray(1 << 18)
    while k := await loop.sock_recv_into(sock, buf):
        view = memoryview(buf)[:k]
        h.update(view)
        if len(first) < head:
            first += view[: head - len(first)]
        n += k
    return n, h.hexdigest(), bytes(first)


async def _both_ways(
    rig: Rig, relay: asyncio.Task[Any], up: int, down: int, prefix: bytes = b""
) -> None:
    """Push *up* bytes client -> server and *down* bytes server -> client; check the hashes.

    *prefix* is what the server must see before the client's *up* bytes (a peeked prefix).
    """
    async with asyncio.timeout(GUARD):
        sent_up, sent_down, got_up, got_down = await asyncio.gather(
            _send_random(rig.client, 1, up),
            _send_random(rig.server, 2, down),
            _recv_hash(rig.server),
            _recv_hash(rig.client),
        )
        await relay
    if prefix:
        h = hashlib.sha256(prefix)
        rnd = random.Random(1)
        left = up
        while left:
            h.update(rnd.randbytes(min(left, 1 << 20)))
            left -= min(left, 1 << 20)
        sent_up = h.hexdigest()
    assert got_up[:2] == (len(prefix) + up, sent_up)
    assert got_down[:2] == (down, sent_down)


# -- peeked / rewound streams: the prefix first, then splice --------------------------------


async def test_peeked_prefix_is_sent_first_and_the_rest_is_spliced(
    spliced: SpliceCounter,
) -> None:
    rig = await _rig()
    loop = asyncio.get_running_loop()
    try:
        prefix = b"\x16\x03\x01\x02\x00"  # what an SNI router looks at first
        await loop.sock_sendall(rig.client, prefix)
        data, replay = await peek(rig.a, len(prefix))
        assert data == prefix
        assert replay.buffered() == len(prefix)  # nothing else was sent yet
        relay = asyncio.create_task(bridge(replay, rig.b))
        await _until_detached(rig.a, rig.b)
        rest = os.urandom(1 << 20)
        reply = os.urandom(300_000)
        async with asyncio.timeout(GUARD):
            await loop.sock_sendall(rig.client, rest)
            rig.client.shutdown(socket.SHUT_WR)
            await loop.sock_sendall(rig.server, reply)
            rig.server.shutdown(socket.SHUT_WR)
            up, down = await asyncio.gather(_recv_hash(rig.server, 5), _recv_hash(rig.client))
            stats = await relay
    finally:
        rig.close()
    assert up == (len(prefix) + len(rest), hashlib.sha256(prefix + rest).hexdigest(), prefix)
    assert down[:2] == (len(reply), hashlib.sha256(reply).hexdigest())
    assert stats.zero_copy
    assert (stats.a_to_b, stats.b_to_a) == (len(prefix) + len(rest), len(reply))
    # everything but the prefix went socket -> pipe -> socket; the prefix went by send()
    assert spliced.moved == 2 * (len(rest) + len(reply))


async def test_rewound_bytes_are_sent_first_and_the_rest_is_spliced(
    spliced: SpliceCounter,
) -> None:
    rig = await _rig()
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(rig.client, b"HEADER:")
        head = await rig.a.read(7)  # consumed, as a protocol parser would
        assert head == b"HEADER:"
        relay = asyncio.create_task(bridge(rewind(rig.a, head), rig.b))
        await _until_detached(rig.a, rig.b)
        body = os.urandom(500_000)
        async with asyncio.timeout(GUARD):
            await loop.sock_sendall(rig.client, body)
            rig.client.shutdown(socket.SHUT_WR)
            rig.server.shutdown(socket.SHUT_WR)
            got = await _recv_hash(rig.server, 7)
            stats = await relay
    finally:
        rig.close()
    assert got == (7 + len(body), hashlib.sha256(head + body).hexdigest(), head)
    assert stats.zero_copy
    assert spliced.moved == 2 * len(body)


@pytest.mark.parametrize(("peeked", "late"), [(1, 0), (5, 1), (517, 3000), (16384, 70000)])
async def test_replayed_and_late_bytes_go_first_in_order_then_splice(
    spliced: SpliceCounter, peeked: int, late: int
) -> None:
    # two leftovers: the peek buffer, and bytes the socket stream took in after the peek
    # (arrived before the bridge detached it); both go out by send(), in order, before the
    # spliced rest
    rig = await _rig()
    loop = asyncio.get_running_loop()
    first, second, rest = os.urandom(peeked), os.urandom(late), os.urandom(300_000)
    try:
        await loop.sock_sendall(rig.client, first)
        _, replay = await peek(rig.a, peeked)
        assert replay.buffered() == peeked
        if late:
            await loop.sock_sendall(rig.client, second)
            async with asyncio.timeout(GUARD):
                while rig.a.buffered() < late:  # noqa: ASYNC110 - the protocol fills it
                    await asyncio.sleep(0.001)
        relay = asyncio.create_task(bridge(replay, rig.b))
        await _until_detached(rig.a, rig.b)
        async with asyncio.timeout(GUARD):
            await loop.sock_sendall(rig.client, rest)
            rig.client.shutdown(socket.SHUT_WR)
            rig.server.shutdown(socket.SHUT_WR)
            got = await _recv_hash(rig.server)
            stats = await relay
    finally:
        rig.close()
    whole = first + second + rest
    assert got[:2] == (len(whole), hashlib.sha256(whole).hexdigest())
    assert stats.zero_copy
    assert spliced.moved == 2 * len(rest)


async def test_tracked_peeked_streams_on_both_sides_still_splice(spliced: SpliceCounter) -> None:
    # the SNI passthrough shape with byte accounting: tracker(peek(socket)) <-> tracker(socket)
    rig = await _rig()
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(rig.client, b"hello")
        _, replay = await peek(rig.a, 5)
        a, b = BytesTrackerStream(replay), BytesTrackerStream(rig.b)
        relay = asyncio.create_task(bridge(a, b))
        await _until_detached(rig.a, rig.b)
        await _both_ways(rig, relay, 2 << 20, 3 << 20, prefix=b"hello")
        stats = relay.result()
    finally:
        rig.close()
    assert stats.zero_copy
    assert spliced.moved == 2 * ((2 << 20) + (3 << 20))  # all but the 5 peeked bytes
    assert a.count.read == 5 + (2 << 20)
    assert b.count.read == 3 << 20


# -- one end cannot detach (a TLS stream, say): the buffered relay ---------------------------


class Opaque(StreamWrapper):
    """A stream that transforms nothing but offers no ``detach_socket`` (like a TLS stream)."""

    __slots__ = ()


class Refusing(StreamWrapper):
    """A wrapper that offers ``detach_socket`` but refuses (a tracker over a TLS stream)."""

    __slots__ = ()

    async def detach_socket(self) -> None:
        return None


@pytest.mark.parametrize("opaque_side", ["a", "b"])
async def test_non_detachable_end_takes_the_buffered_relay_16mib_both_ways(
    spliced: SpliceCounter, opaque_side: str
) -> None:
    rig = await _rig()
    try:
        a: Stream = Opaque(rig.a) if opaque_side == "a" else rig.a
        b: Stream = Opaque(rig.b) if opaque_side == "b" else rig.b
        relay = asyncio.create_task(bridge(a, b))
        await _both_ways(rig, relay, BULK, BULK)
        stats = relay.result()
    finally:
        rig.close()
    assert not stats.zero_copy
    assert (stats.a_to_b, stats.b_to_a) == (BULK, BULK)
    assert spliced.calls == 0


@pytest.mark.parametrize("refusing_side", ["a", "b"])
async def test_refused_detach_falls_back_to_buffered_with_a_peeked_prefix(
    spliced: SpliceCounter, refusing_side: str
) -> None:
    rig = await _rig()
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(rig.client, b"PREFIX")
        _, replay = await peek(rig.a, 6)
        a: Stream = Refusing(replay) if refusing_side == "a" else replay
        b: Stream = Refusing(rig.b) if refusing_side == "b" else rig.b
        relay = asyncio.create_task(bridge(a, b))
        body = os.urandom(4 << 20)
        async with asyncio.timeout(GUARD):
            await loop.sock_sendall(rig.client, body)
            rig.client.shutdown(socket.SHUT_WR)
            rig.server.shutdown(socket.SHUT_WR)
            got = await _recv_hash(rig.server, 6)
            stats = await relay
    finally:
        rig.close()
    assert got == (6 + len(body), hashlib.sha256(b"PREFIX" + body).hexdigest(), b"PREFIX")
    assert not stats.zero_copy
    assert spliced.calls == 0


class DetachSpy(StreamWrapper):
    """Forwards ``detach_socket`` and counts the calls."""

    __slots__ = ("calls",)

    def __init__(self, inner: Stream) -> None:
        super().__init__(inner)
        self.calls = 0

    async def detach_socket(self) -> tuple[socket.socket, bytes] | None:
        self.calls += 1
        return await detach_inner(self._inner)


async def test_wrapper_over_a_non_detachable_stream_is_not_tried(spliced: SpliceCounter) -> None:
    # b: a bytes tracker over a stream without detach_socket (as over a TLS stream). The
    # bridge sees that up front and leaves a alone: no detach, no second transport for a.
    rig = await _rig()
    try:
        a = DetachSpy(rig.a)
        b = BytesTrackerStream(Opaque(rig.b))
        relay = asyncio.create_task(bridge(a, b))
        await _both_ways(rig, relay, 1 << 20, 1 << 20)
        stats = relay.result()
    finally:
        rig.close()
    assert a.calls == 0
    assert not stats.zero_copy
    assert spliced.calls == 0
    assert (b.count.read, b.count.written) == (1 << 20, 1 << 20)


async def test_forwarding_wrappers_over_sockets_are_still_detached(
    spliced: SpliceCounter,
) -> None:
    rig = await _rig()
    try:
        a = DetachSpy(BytesTrackerStream(rig.a))
        b = DetachSpy(rewind(BytesTrackerStream(rig.b), b""))
        relay = asyncio.create_task(bridge(a, b))
        await _until_detached(rig.a, rig.b)
        await _both_ways(rig, relay, 1 << 20, 1 << 20)
        stats = relay.result()
    finally:
        rig.close()
    assert (a.calls, b.calls) == (1, 1)
    assert stats.zero_copy
    assert spliced.moved == 2 * (2 << 20)


async def test_zero_copy_off_never_splices(spliced: SpliceCounter) -> None:
    rig = await _rig()
    try:
        relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=False))
        await _both_ways(rig, relay, 1 << 20, 1 << 20)
        stats = relay.result()
    finally:
        rig.close()
    assert not stats.zero_copy
    assert spliced.calls == 0


# -- the same on uvloop (the CLI's loop) -----------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        test_peeked_prefix_is_sent_first_and_the_rest_is_spliced,
        test_rewound_bytes_are_sent_first_and_the_rest_is_spliced,
        test_tracked_peeked_streams_on_both_sides_still_splice,
        test_wrapper_over_a_non_detachable_stream_is_not_tried,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_on_uvloop(
    spliced: SpliceCounter, case: Callable[[SpliceCounter], Coroutine[Any, Any, None]]
) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(case(spliced))


def test_uvloop_two_leftovers(spliced: SpliceCounter) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test_replayed_and_late_bytes_go_first_in_order_then_splice(spliced, 517, 3000))
