from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions
from pyrama_core.errors import LimitError
from pyrama_net import BufferedStream, Stream, read_exact, read_until
from pyrama_net.errors import StreamError, UnexpectedEofError
from pyrama_testing import mock_stream_pair


class ChunkStream:
    """A read-only Stream that returns the given chunks, one per read (split by max_bytes)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = [c for c in chunks if c]
        self.reads: list[int] = []
        self._ext = Extensions()
        self.closed = False

    @property
    def extensions(self) -> Extensions:
        return self._ext

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        self.reads.append(max_bytes)
        await asyncio.sleep(0)
        if not self.chunks:
            return b""
        head = self.chunks[0]
        if len(head) <= max_bytes:
            self.chunks.pop(0)
            return head
        self.chunks[0] = head[max_bytes:]
        return head[:max_bytes]

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        raise AssertionError("read-only")

    async def drain(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    async def close(self) -> None:
        self.closed = True

    def rest(self) -> bytes:
        return b"".join(self.chunks)


def test_chunk_stream_is_a_stream() -> None:
    assert isinstance(ChunkStream([]), Stream)
    assert isinstance(BufferedStream(ChunkStream([])), Stream)


async def test_read_exact_never_over_consumes_a_plain_stream() -> None:
    s = ChunkStream([b"ab", b"cdefgh", b"ij"])
    assert await read_exact(s, 5) == b"abcde"
    assert s.rest() == b"fghij"
    assert await read_exact(s, 0) == b""
    assert await read_exact(s, 5) == b"fghij"


async def test_read_exact_eof_reports_expected_and_got() -> None:
    s = ChunkStream([b"abc"])
    with pytest.raises(UnexpectedEofError) as ei:
        await read_exact(s, 10)
    assert ei.value.expected == 10
    assert ei.value.got == 3
    assert isinstance(ei.value, StreamError)


async def test_read_exact_on_buffered_stream_puts_bytes_back_on_eof() -> None:
    b = BufferedStream(ChunkStream([b"abc", b"de"]))
    with pytest.raises(UnexpectedEofError):
        await read_exact(b, 6)
    assert await read_exact(b, 5) == b"abcde"
    assert await b.read() == b""


async def test_read_exact_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        await read_exact(ChunkStream([]), -1)


async def test_read_until_keeps_what_follows_the_separator() -> None:
    inner = ChunkStream([b"PROXY TCP4 1.2", b".3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n"])
    b = BufferedStream(inner)
    line = await read_until(b, b"\r\n", 107)
    assert line == b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"
    assert await read_until(b, b"\r\n", 107) == b"GET / HTTP/1.1\r\n"
    assert await b.read() == b""


async def test_read_until_separator_split_across_reads() -> None:
    b = BufferedStream(ChunkStream([b"abc\r", b"\ndef"]))
    assert await read_until(b, b"\r\n", 100) == b"abc\r\n"
    assert await b.read() == b"def"


async def test_read_until_limit_counts_the_separator_and_consumes_nothing() -> None:
    # "abcd\n" is 5 bytes: a limit of 4 must fail, 5 must pass
    b = BufferedStream(ChunkStream([b"abcd\nrest"]))
    with pytest.raises(LimitError) as ei:
        await read_until(b, b"\n", 4)
    assert ei.value.limit == 4
    assert b.buffered() <= 4  # the buffer never grows past the limit
    assert await read_until(b, b"\n", 5) == b"abcd\n"
    assert await b.read() == b"rest"


async def test_read_until_reads_no_more_than_the_limit_from_the_inner_stream() -> None:
    inner = ChunkStream([b"x" * 1000])
    b = BufferedStream(inner)
    with pytest.raises(LimitError):
        await read_until(b, b"\n", 100)
    assert b.buffered() == 100
    assert len(inner.rest()) == 900


async def test_read_until_eof_keeps_the_partial_data() -> None:
    b = BufferedStream(ChunkStream([b"no newline"]))
    with pytest.raises(UnexpectedEofError) as ei:
        await read_until(b, b"\n", 100)
    assert ei.value.got == len(b"no newline")
    assert await b.read() == b"no newline"


async def test_read_until_argument_checks() -> None:
    b = BufferedStream(ChunkStream([]))
    with pytest.raises(ValueError, match="empty"):
        await read_until(b, b"", 10)
    with pytest.raises(ValueError, match="limit"):
        await read_until(b, b"\r\n", 1)


async def test_buffered_stream_peek_unread_take() -> None:
    b = BufferedStream(ChunkStream([b"hello ", b"world"]), prefix=b">> ")
    assert await b.peek(5) == b">> he"
    assert await b.peek(20) == b">> hello world"  # short: EOF came first
    assert b.take(3) == b">> "
    b.unread(b"<<")
    assert await b.read(4) == b"<<he"
    assert await b.read() == b"llo world"
    assert await b.read() == b""
    assert b.at_eof()
    b.unread(b"again")
    assert not b.at_eof()
    assert await b.read() == b"again"


async def test_buffered_stream_forwards_writes_and_shares_extensions() -> None:
    x, y = mock_stream_pair()
    b = BufferedStream(x)
    assert b.extensions is x.extensions
    b.write(b"ping")
    await b.drain()
    assert b.can_write_eof()
    b.write_eof()
    assert await y.read() == b"ping"
    assert await y.read() == b""
    await b.close()
    assert b.is_closing()
    assert x.is_closing()


async def test_buffered_stream_over_non_detachable_does_not_detach() -> None:
    assert await BufferedStream(ChunkStream([b"x"]), b"p").detach_socket() is None


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


@given(
    data=st.binary(max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    sep=st.sampled_from([b"\n", b"\r\n", b"\r\n\r\n", b"ab"]),
    limit=st.integers(min_value=4, max_value=320),
)
def test_read_until_property(data: bytes, cuts: list[int], sep: bytes, limit: int) -> None:
    async def main() -> None:
        b = BufferedStream(ChunkStream(_split(data, cuts)))
        idx = data.find(sep)
        if idx >= 0 and idx + len(sep) <= limit:
            assert await read_until(b, sep, limit) == data[: idx + len(sep)]
            rest = data[idx + len(sep) :]
        else:
            exc = LimitError if (idx >= 0 or len(data) >= limit) else UnexpectedEofError
            with pytest.raises(exc):
                await read_until(b, sep, limit)
            rest = data
        # whatever happened, no byte is lost or duplicated
        got = bytearray()
        while chunk := await b.read(7):
            got += chunk
        assert bytes(got) == rest

    asyncio.run(main())


@given(
    data=st.binary(max_size=200),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=8),
    ops=st.lists(
        st.tuples(st.sampled_from(["read", "peek", "exact", "unread"]), st.integers(0, 40)),
        max_size=20,
    ),
)
def test_buffered_stream_preserves_the_byte_sequence(
    data: bytes, cuts: list[int], ops: list[tuple[str, int]]
) -> None:
    async def main() -> None:
        b = BufferedStream(ChunkStream(_split(data, cuts)))
        consumed = bytearray()
        for op, n in ops:
            if op == "read" and n:
                consumed += await b.read(n)
            elif op == "peek":
                expect = data[len(consumed) : len(consumed) + n]
                assert await b.peek(n) == expect
            elif op == "exact":
                left = len(data) - len(consumed)
                if n <= left:
                    consumed += await read_exact(b, n)
                else:
                    with pytest.raises(UnexpectedEofError):
                        await read_exact(b, n)
            elif op == "unread" and consumed:
                k = min(n, len(consumed))
                b.unread(bytes(consumed[len(consumed) - k :]))
                del consumed[len(consumed) - k :]
        while chunk := await b.read(13):
            consumed += chunk
        assert bytes(consumed) == data

    asyncio.run(main())


async def test_buffered_stream_is_closed_follows_the_inner_stream() -> None:
    class Closable(ChunkStream):
        closed = False

        def is_closed(self) -> bool:
            return self.closed

    inner = Closable([b"abc"])
    buffered = BufferedStream(inner, b"x")
    assert not buffered.is_closed()
    inner.closed = True
    assert buffered.is_closed()
    # an inner stream that cannot tell: never claimed closed
    assert not BufferedStream(ChunkStream([b""])).is_closed()
