from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from pyrama_core.errors import LimitError
from pyrama_http_types import Body, HeaderMap
from pyrama_http_types.errors import BodyConsumedError, BodyError, BodyTooLargeError


async def gen(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


async def test_bytes_body_fast_path() -> None:
    b = Body.from_bytes(b"hello")
    assert b.size_hint == 5
    assert b.is_in_memory
    before = b.is_consumed
    assert await b.collect() == b"hello"
    after = b.is_consumed
    assert (before, after) == (False, True)
    assert b.trailers is None
    with pytest.raises(BodyConsumedError):
        await b.collect()


async def test_empty_and_text() -> None:
    e = Body.empty()
    assert e.size_hint == 0
    assert e.is_empty
    assert [c async for c in e] == []
    assert await Body("h\xe9").collect() == "h\xe9".encode()
    assert await Body.from_text("x", "latin-1").collect() == b"x"
    assert await Body(b"ab").text() == "ab"
    with pytest.raises(BodyError, match="utf-8"):
        await Body(b"\xff").text()


async def test_stream_iteration_and_single_consumption() -> None:
    b = Body.from_iter(gen(b"a", b"", b"bc"))
    assert b.size_hint is None
    assert not b.is_in_memory
    assert not b.is_empty
    assert [c async for c in b] == [b"a", b"bc"]
    assert b.bytes_read == 3
    with pytest.raises(BodyConsumedError):
        [c async for c in b]
    with pytest.raises(BodyConsumedError):
        b.limited(10)


async def test_bytes_iteration() -> None:
    b = Body(b"xyz")
    assert [c async for c in b] == [b"xyz"]
    with pytest.raises(BodyConsumedError):
        async for _ in b:
            pass


async def test_limit_on_bytes_body_raises_413() -> None:
    b = Body(b"12345").limited(4)
    with pytest.raises(BodyTooLargeError) as exc:
        await b.collect()
    assert exc.value.status_hint == 413
    assert exc.value.limit == 4
    assert isinstance(exc.value, LimitError)
    assert await Body(b"1234").limited(4).collect() == b"1234"


async def test_limit_on_stream_without_hint() -> None:
    closed = False

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal closed
        try:
            for _ in range(10):
                yield b"xx"
        finally:
            closed = True

    b = Body.from_iter(chunks())
    with pytest.raises(BodyTooLargeError):
        await b.read_all(limit=5)
    assert closed
    assert await Body.from_iter(gen(b"ab", b"cd")).read_all(limit=4) == b"abcd"


async def test_limit_checked_against_size_hint_before_reading() -> None:
    started = False

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal started
        started = True
        yield b"x" * 10

    b = Body.from_iter(chunks(), size_hint=10).limited(9)
    with pytest.raises(BodyTooLargeError):
        await b.collect()
    assert not started


async def test_lower_limit_wins() -> None:
    b = Body(b"abc").limited(2).limited(10)
    assert b.limit == 2
    with pytest.raises(ValueError, match="max_bytes"):
        Body(b"").limited(-1)


async def test_size_hint_mismatch_is_an_error() -> None:
    with pytest.raises(BodyError, match="more than its size hint"):
        await Body.from_iter(gen(b"abc"), size_hint=2).collect()
    with pytest.raises(BodyError, match="ended after 1 of its 2"):
        await Body.from_iter(gen(b"a"), size_hint=2).collect()
    assert await Body.from_iter(gen(b"a", b"b"), size_hint=2).collect() == b"ab"
    with pytest.raises(ValueError, match="size_hint"):
        Body.from_iter(gen(), size_hint=-1)


async def test_trailers() -> None:
    t = HeaderMap([("X-Checksum", "abc")])
    b = Body.from_iter(gen(b"data"), trailers=lambda: t)
    with pytest.raises(BodyError, match="trailers"):
        _ = b.trailers
    assert await b.collect() == b"data"
    assert b.trailers is t
    m = Body.from_bytes(b"x", trailers=t)
    assert not m.is_empty
    await m.collect()
    assert m.trailers is t


async def test_non_bytes_chunks() -> None:
    async def mixed() -> AsyncIterator[bytes]:
        yield bytearray(b"a")  # type: ignore[misc]
        yield memoryview(b"b")  # type: ignore[misc]
        yield "c"  # type: ignore[misc]

    b = Body.from_iter(mixed())
    it = aiter(b)
    assert await anext(it) == b"a"
    assert await anext(it) == b"b"
    with pytest.raises(BodyError, match="str"):
        await anext(it)


async def test_stream_error_propagates_and_ends_body() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"a"
        raise OSError("boom")

    b = Body.from_iter(failing())
    with pytest.raises(OSError, match="boom"):
        await b.collect()
    assert b.is_consumed


async def test_try_take_bytes() -> None:
    assert Body(b"abc").try_take_bytes() == b"abc"
    assert Body.from_iter(gen(b"a")).try_take_bytes() is None
    assert Body(b"abc").limited(1).try_take_bytes() is None
    b = Body(b"abc")
    await b.collect()
    assert b.try_take_bytes() is None


async def test_try_take_bytes_plain_only_takes_no_body_with_trailers() -> None:
    b = Body(b"abc")
    assert b.try_take_bytes(plain_only=True) == b"abc"
    assert b.is_consumed
    assert b.trailers is None
    assert Body.from_iter(gen(b"a")).try_take_bytes(plain_only=True) is None
    assert Body(b"abc").limited(1).try_take_bytes(plain_only=True) is None
    # trailers: left alone (nothing consumed), for a driver that frames them
    t = Body.from_bytes(b"abc", trailers=HeaderMap([("x-sum", "1")]))
    assert t.try_take_bytes(plain_only=True) is None
    assert not t.is_consumed
    assert t.try_take_bytes() == b"abc"
    assert t.trailers is not None
    assert t.trailers["x-sum"] == "1"
    read = Body(b"abc")
    await read.collect()
    assert read.try_take_bytes(plain_only=True) is None


async def test_aclose() -> None:
    closed = False

    async def chunks() -> AsyncGenerator[bytes, None]:
        nonlocal closed
        try:
            yield b"a"
        finally:
            closed = True

    g = chunks()
    await g.asend(None)  # start it so aclose runs the finally block
    b = Body.from_iter(g)
    await b.aclose()
    assert closed
    assert b.is_consumed
    with pytest.raises(BodyConsumedError):
        await b.collect()


def test_type_errors_and_repr() -> None:
    with pytest.raises(TypeError):
        Body(42)  # type: ignore[arg-type]
    assert repr(Body(b"ab")) == "Body(bytes, size_hint=2, ready)"


async def test_channel_round_trip_with_trailers() -> None:
    sender, body = Body.channel(size_hint=6)
    t = HeaderMap([("grpc-status", "0")])

    async def produce() -> None:
        await sender.send(b"abc")
        await sender.send(b"")
        await sender.send(b"def")
        sender.finish(t)

    task = asyncio.create_task(produce())
    assert await body.collect() == b"abcdef"
    await task
    assert body.trailers is t
    with pytest.raises(BodyError):
        sender.send_nowait(b"late")


async def test_channel_backpressure() -> None:
    sender, body = Body.channel(max_buffer=4)
    await sender.send(b"1234")
    assert sender.buffered == 4
    blocked = asyncio.create_task(sender.send(b"5"))
    await asyncio.sleep(0)
    assert not blocked.done()
    it = aiter(body)
    assert await anext(it) == b"1234"
    await asyncio.wait_for(blocked, 5)
    sender.finish()
    assert await anext(it) == b"5"
    with pytest.raises(StopAsyncIteration):
        await anext(it)


async def test_channel_abort_and_reader_close() -> None:
    sender, body = Body.channel()
    sender.send_nowait(b"x")
    sender.abort(ConnectionResetError("reset"))
    sender.abort(ValueError("ignored"))
    it = aiter(body)
    assert await anext(it) == b"x"
    with pytest.raises(ConnectionResetError):
        await anext(it)

    sender2, body2 = Body.channel(max_buffer=1)
    await sender2.send(b"a")
    waiting = asyncio.create_task(sender2.send(b"b"))
    await asyncio.sleep(0)
    await body2.aclose()
    assert sender2.is_closed
    with pytest.raises(BodyError, match="closed"):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(ValueError, match="max_buffer"):
        Body.channel(max_buffer=0)


async def test_anext_without_aiter_still_checks_limit_and_consumption() -> None:
    b = Body(b"abc").limited(2)
    with pytest.raises(BodyTooLargeError):
        await anext(b)
    s = Body.from_iter(gen(b"x"))
    assert await anext(s) == b"x"
    with pytest.raises(BodyConsumedError):
        aiter(s)
