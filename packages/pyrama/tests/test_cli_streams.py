"""The stream services and the per-connection layer of ``pyrama serve`` (in memory)."""

from __future__ import annotations

import asyncio

import pytest

from pyrama.cli._streams import ConnectionLayer, discard_stream, echo_stream, refuse
from pyrama_core import layers, service_fn
from pyrama_core.errors import OverloadedError
from pyrama_core.layer import ConcurrencyLimitLayer
from pyrama_testing import mock_stream_pair


async def read_all(stream: object) -> bytes:
    buf = bytearray()
    while data := await stream.read():  # type: ignore[attr-defined]
        buf += data
    return bytes(buf)


async def test_echo_sends_back_and_answers_eof_with_eof() -> None:
    client, server = mock_stream_pair()
    task = asyncio.create_task(echo_stream(server))
    client.write(b"abc" * 1000)
    client.write_eof()
    assert await asyncio.wait_for(read_all(client), 10) == b"abc" * 1000
    await asyncio.wait_for(task, 10)


async def test_discard_never_writes() -> None:
    client, server = mock_stream_pair()
    client.write(b"x" * 100_000)
    client.write_eof()
    await asyncio.wait_for(discard_stream(server), 10)
    assert server.written == []


async def test_refuse_half_closes_and_reads_until_eof() -> None:
    client, server = mock_stream_pair()
    client.write(b"pending")
    client.write_eof()
    await asyncio.wait_for(refuse(server), 10)
    assert await client.read() == b""  # got our EOF
    assert server.written == []


async def test_refuse_stops_after_max_bytes() -> None:
    client, server = mock_stream_pair()
    client.write(b"y" * 5000)  # never sends EOF
    await asyncio.wait_for(refuse(server, linger=60, max_bytes=1000), 10)
    assert await client.read() == b""


async def test_refuse_stops_after_linger() -> None:
    client, server = mock_stream_pair()  # a peer that never sends EOF
    await asyncio.wait_for(refuse(server, linger=0.05), 10)
    assert await client.read() == b""


async def test_connection_layer_refuses_over_the_limit_cleanly() -> None:
    gate = asyncio.Event()

    async def hold(stream: object) -> None:
        await gate.wait()

    svc = layers(ConnectionLayer("test"), ConcurrencyLimitLayer(1, "reject")).into(service_fn(hold))
    _c1, s1 = mock_stream_pair()
    first = asyncio.create_task(svc.serve(s1))
    await asyncio.sleep(0)
    c2, s2 = mock_stream_pair()
    c2.write_eof()
    await asyncio.wait_for(svc.serve(s2), 10)  # refused: returns instead of raising
    assert await c2.read() == b""
    gate.set()
    await asyncio.wait_for(first, 10)


@pytest.mark.parametrize("exc", [ConnectionResetError("reset"), OverloadedError("full")])
async def test_connection_layer_ends_connection_errors_quietly(exc: Exception) -> None:
    async def fail(stream: object) -> None:
        raise exc

    svc = ConnectionLayer("test").layer(service_fn(fail))
    client, server = mock_stream_pair()
    client.write_eof()
    await asyncio.wait_for(svc.serve(server), 10)


async def test_connection_layer_lets_bugs_through() -> None:
    async def bug(stream: object) -> None:
        raise ZeroDivisionError

    svc = ConnectionLayer("test").layer(service_fn(bug))
    _, server = mock_stream_pair()
    with pytest.raises(ZeroDivisionError):
        await svc.serve(server)


@pytest.mark.parametrize("debug", [False, True])
async def test_connection_layer_serves_alike_with_and_without_debug_logging(debug: bool) -> None:
    import logging

    from pyrama.cli._streams import debug_enabled

    logger = logging.getLogger("pyrama.cli")
    old = logger.level
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        assert debug_enabled() is debug
        svc = ConnectionLayer("test").layer(service_fn(echo_stream))
        client, server = mock_stream_pair()
        client.write(b"ping")
        client.write_eof()
        await asyncio.wait_for(svc.serve(server), 10)
        assert await read_all(client) == b"ping"
    finally:
        logger.setLevel(old)
