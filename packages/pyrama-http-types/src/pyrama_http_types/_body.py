"""Body: the content of a request or response, in memory or streamed, consumed once."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, NoReturn

from pyrama_http_types._headers import HeaderMap
from pyrama_http_types.errors import BodyConsumedError, BodyError, BodyTooLargeError

__all__ = ["Body", "BodySender"]

_READY = 0
_STREAMING = 1
_DONE = 2

TrailersFn = Callable[[], "HeaderMap | None"]


def _too_large(limit: int, got: int | None = None) -> BodyTooLargeError:
    detail = "" if got is None else f" (at least {got} bytes)"
    return BodyTooLargeError(f"body is larger than the limit of {limit} bytes{detail}", limit=limit)


_new_body = object.__new__


def memory_body(data: bytes) -> Body:
    """``Body(data)`` for *data* known to be ``bytes``, without the call and the type checks.

    For the hot paths (an empty request body per request, ``Response.text``...).
    """
    body: Body = _new_body(Body)
    body._iter = None
    body._limit = None
    body._read = 0
    body._state = _READY
    body._trailers = None
    body._trailers_fn = None
    body._stream = None
    body._data = data
    body._size_hint = len(data)
    return body


class Body:
    """The content of an HTTP message: bytes in memory or an async stream of ``bytes`` chunks.

    * :meth:`empty`, :meth:`from_bytes`, :meth:`from_text` hold the content in memory (no
      async generator is made to read them); :meth:`from_iter` streams an async iterable;
      :meth:`channel` gives a :class:`BodySender` a protocol driver pushes chunks into.
    * :attr:`size_hint` is the exact length when known (in-memory bodies, or a stream given a
      length); a stream that yields more or fewer bytes than its hint fails with
      :class:`~pyrama_http_types.errors.BodyError`.
    * :meth:`limited` caps the number of bytes read; going over raises
      :class:`~pyrama_http_types.errors.BodyTooLargeError` (status hint 413), before any
      byte is read when the size hint already says so.
    * A body is consumed once: by ``async for chunk in body``, :meth:`collect`,
      :meth:`read_all`, :meth:`try_take_bytes` or :meth:`aclose`. A second attempt raises
      :class:`~pyrama_http_types.errors.BodyConsumedError`.
    * :attr:`trailers` (a :class:`HeaderMap` or ``None``) is available once it is consumed.
    """

    __slots__ = (
        "_data",
        "_iter",
        "_limit",
        "_read",
        "_size_hint",
        "_state",
        "_stream",
        "_trailers",
        "_trailers_fn",
    )

    def __init__(
        self,
        content: bytes | str | AsyncIterable[bytes] | None = None,
        *,
        size_hint: int | None = None,
        trailers: HeaderMap | None = None,
    ) -> None:
        """Make a body from bytes, text (UTF-8), an async iterable of chunks, or nothing."""
        self._iter: AsyncIterator[bytes] | None = None
        self._limit: int | None = None
        self._read = 0
        self._state = _READY
        self._trailers = trailers
        self._trailers_fn: TrailersFn | None = None
        self._stream: AsyncIterable[bytes] | None
        self._data: bytes | None
        self._size_hint: int | None
        if type(content) is bytes:  # the common case first
            self._data = content
            self._stream = None
            self._size_hint = len(content)
        elif content is None:
            self._data = b""
            self._stream = None
            self._size_hint = 0
        elif isinstance(content, bytes | bytearray | memoryview):
            self._data = bytes(content)
            self._stream = None
            self._size_hint = len(self._data)
        elif isinstance(content, str):
            self._data = content.encode("utf-8")
            self._stream = None
            self._size_hint = len(self._data)
        elif isinstance(content, AsyncIterable):
            if size_hint is not None and size_hint < 0:
                raise ValueError(f"size_hint must be >= 0, got {size_hint}")
            self._data = None
            self._stream = content
            self._size_hint = size_hint
        else:
            raise TypeError(
                f"a body is bytes, str or an async iterable of bytes, got {type(content).__name__}"
            )

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def empty(cls) -> Body:
        """An empty body (size hint ``0``)."""
        if cls is not Body:  # a subclass gets its own constructor
            return cls(None)
        return memory_body(b"")

    @classmethod
    def from_bytes(cls, data: bytes, *, trailers: HeaderMap | None = None) -> Body:
        """A body holding *data* in memory."""
        return cls(data, trailers=trailers)

    @classmethod
    def from_text(cls, text: str, encoding: str = "utf-8") -> Body:
        """A body holding *text* encoded with *encoding*."""
        return cls(text.encode(encoding))

    @classmethod
    def from_iter(
        cls,
        chunks: AsyncIterable[bytes],
        *,
        size_hint: int | None = None,
        trailers: Callable[[], HeaderMap | None] | None = None,
    ) -> Body:
        """A body streaming *chunks*; *size_hint* is its exact total length if known.

        *trailers*, if given, is called once the stream is exhausted and its result becomes
        :attr:`trailers`.
        """
        body = cls(chunks, size_hint=size_hint)
        body._trailers_fn = trailers
        return body

    @classmethod
    def channel(
        cls, *, size_hint: int | None = None, max_buffer: int = 65536
    ) -> tuple[BodySender, Body]:
        """A streaming body fed by the returned :class:`BodySender` (what drivers use).

        The sender's :meth:`BodySender.send` waits while more than *max_buffer* bytes are
        queued and unread (backpressure).
        """
        sender = BodySender(max_buffer=max_buffer)
        body = cls(sender._reader(), size_hint=size_hint)
        body._trailers_fn = sender._get_trailers
        return sender, body

    # -- facts -----------------------------------------------------------------------------

    @property
    def size_hint(self) -> int | None:
        """The exact length in bytes if known, else ``None``."""
        return self._size_hint

    @property
    def limit(self) -> int | None:
        """The byte limit set by :meth:`limited`, or ``None``."""
        return self._limit

    @property
    def is_consumed(self) -> bool:
        """Whether reading has started (a body can be read only once)."""
        return self._state != _READY

    @property
    def is_in_memory(self) -> bool:
        """Whether the content is held as bytes (not a stream)."""
        return self._stream is None

    @property
    def is_empty(self) -> bool:
        """Whether the body is known to be empty: size hint 0 and no trailers to come."""
        return self._size_hint == 0 and self._trailers is None and self._trailers_fn is None

    @property
    def bytes_read(self) -> int:
        """How many bytes have been read so far."""
        return self._read

    @property
    def trailers(self) -> HeaderMap | None:
        """The trailer fields, once the body has been read to its end; ``None`` if none.

        Raises :class:`~pyrama_http_types.errors.BodyError` before the end is reached.
        """
        if self._state != _DONE:
            raise BodyError("trailers are available once the body has been read to its end")
        return self._trailers

    # -- configuration ---------------------------------------------------------------------

    def limited(self, max_bytes: int) -> Body:
        """Cap the bytes this body may yield at *max_bytes* (the lower of two limits wins).

        Returns ``self`` (so ``body = body.limited(1024)`` and chaining both work). Reading
        past the cap raises :class:`~pyrama_http_types.errors.BodyTooLargeError`.
        """
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if self._state != _READY:
            raise BodyConsumedError("cannot limit a body that is already being read")
        if self._limit is None or max_bytes < self._limit:
            self._limit = max_bytes
        return self

    # -- reading ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._state != _READY:
            raise BodyConsumedError("the body has already been consumed (a body is read once)")
        self._state = _STREAMING
        limit = self._limit
        if limit is not None and self._size_hint is not None and self._size_hint > limit:
            self._state = _DONE
            raise _too_large(limit, self._size_hint)

    def __aiter__(self) -> Body:
        self._start()
        if self._stream is not None:
            self._iter = aiter(self._stream)
        return self

    async def __anext__(self) -> bytes:
        if self._state == _READY:
            self.__aiter__()  # anext(body) without aiter(): same checks as 'async for'
        data = self._data
        if data is not None:
            self._data = None
            if data:
                self._read = len(data)
                return data
            self._finish()
        it = self._iter
        if it is None:
            if self._state == _STREAMING:
                self._finish()
            raise BodyConsumedError("iterate a body with 'async for' (it was not started)")
        while True:
            try:
                chunk = await it.__anext__()
            except StopAsyncIteration:
                self._finish()
            except BaseException:
                self._iter = None
                self._state = _DONE
                raise
            if type(chunk) is not bytes:
                obj: object = chunk
                if not isinstance(obj, bytearray | memoryview):
                    self._iter = None
                    self._state = _DONE
                    raise BodyError(f"a body stream yielded {type(obj).__name__}, not bytes")
                chunk = bytes(obj)
            if not chunk:
                continue
            read = self._read + len(chunk)
            self._read = read
            limit = self._limit
            if limit is not None and read > limit:
                await self._abort()
                raise _too_large(limit, read)
            hint = self._size_hint
            if hint is not None and read > hint:
                await self._abort()
                raise BodyError(f"the body stream yielded more than its size hint of {hint} bytes")
            return chunk

    def _finish(self) -> NoReturn:
        self._iter = None
        hint = self._size_hint
        if hint is not None and self._read != hint:
            self._state = _DONE
            raise BodyError(
                f"the body stream ended after {self._read} of its {hint} announced bytes"
            )
        fn = self._trailers_fn
        if fn is not None:
            self._trailers_fn = None
            self._trailers = fn()
        self._state = _DONE
        raise StopAsyncIteration

    async def _abort(self) -> None:
        it = self._iter
        self._iter = None
        self._state = _DONE
        close = getattr(it, "aclose", None)
        if close is not None:
            await close()

    async def collect(self) -> bytes:
        """Read the whole body into memory and return it (honouring :meth:`limited`)."""
        data = self._data
        if data is not None and self._state == _READY:
            limit = self._limit
            if limit is not None and len(data) > limit:
                self._state = _DONE
                raise _too_large(limit, len(data))
            self._data = None
            self._read = len(data)
            self._state = _DONE
            return data
        parts = [chunk async for chunk in self]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def read_all(self, limit: int | None = None) -> bytes:
        """Like :meth:`collect`, with an optional byte *limit* for this read."""
        if limit is not None:
            self.limited(limit)
        return await self.collect()

    async def text(self, encoding: str = "utf-8", *, limit: int | None = None) -> str:
        """Read the whole body and decode it (strictly) with *encoding*."""
        data = await self.read_all(limit)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise BodyError(f"the body is not valid {encoding}") from exc

    def try_take_bytes(self, plain_only: bool = False) -> bytes | None:
        """If this is an unread in-memory body within its limit, consume it and return it.

        Returns ``None`` (and consumes nothing) for streams, so a driver can take a fast path
        for in-memory bodies and stream the rest. With *plain_only*, also for a body with
        trailers: the bytes returned are then the whole content, and a driver can frame the
        message in one piece without asking for trailers.
        """
        data = self._data
        if data is None or self._state != _READY:
            return None
        if plain_only and (self._trailers is not None or self._trailers_fn is not None):
            return None
        limit = self._limit
        if limit is not None and len(data) > limit:
            return None
        self._data = None
        self._read = len(data)
        self._state = _DONE
        return data

    async def aclose(self) -> None:
        """Discard the body without reading it (closes the stream); it counts as consumed."""
        self._data = None
        self._state = _DONE
        it = self._iter
        self._iter = None
        if it is None and self._stream is not None:
            stream: Any = self._stream
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
            return
        close = getattr(it, "aclose", None)
        if close is not None:
            await close()

    def __repr__(self) -> str:
        kind = "bytes" if self._stream is None else "stream"
        state = ("ready", "streaming", "done")[self._state]
        return f"Body({kind}, size_hint={self._size_hint}, {state})"


_END = object()


class BodySender:
    """The writing end of :meth:`Body.channel`: a driver pushes received chunks into it.

    :meth:`send` queues a chunk (waiting while the unread backlog exceeds the buffer),
    :meth:`finish` ends the body (with optional trailers), :meth:`abort` makes the reader's
    next read raise the given error. After the reader closes the body
    (:meth:`Body.aclose`), :meth:`send` raises :class:`~pyrama_http_types.errors.BodyError`,
    which tells the driver to stop (reset the stream).
    """

    __slots__ = (
        "_buffered",
        "_closed",
        "_done",
        "_error",
        "_max_buffer",
        "_queue",
        "_reader_waiter",
        "_trailers",
        "_writer_waiter",
    )

    def __init__(self, *, max_buffer: int = 65536) -> None:
        """Make a sender whose :meth:`send` waits while over *max_buffer* unread bytes."""
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be >= 1, got {max_buffer}")
        self._queue: deque[bytes] = deque()
        self._buffered = 0
        self._max_buffer = max_buffer
        self._done = False
        self._closed = False
        self._error: BaseException | None = None
        self._trailers: HeaderMap | None = None
        self._reader_waiter: asyncio.Future[None] | None = None
        self._writer_waiter: asyncio.Future[None] | None = None

    @property
    def is_closed(self) -> bool:
        """Whether the reader closed the body (further chunks are unwanted)."""
        return self._closed

    @property
    def buffered(self) -> int:
        """Bytes queued and not yet read."""
        return self._buffered

    def _wake_reader(self) -> None:
        w = self._reader_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _wake_writer(self) -> None:
        w = self._writer_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def send_nowait(self, chunk: bytes) -> None:
        """Queue *chunk* without waiting (ignores the buffer bound: for flow-controlled drivers)."""
        if self._closed:
            raise BodyError("the body reader has closed the body")
        if self._done:
            raise BodyError("the body has already been finished")
        if chunk:
            self._queue.append(bytes(chunk))
            self._buffered += len(chunk)
            self._wake_reader()

    async def send(self, chunk: bytes) -> None:
        """Queue *chunk*, first waiting while the unread backlog is over the buffer size."""
        while self._buffered >= self._max_buffer and not self._closed:
            self._writer_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._writer_waiter
            finally:
                self._writer_waiter = None
        self.send_nowait(chunk)

    def finish(self, trailers: HeaderMap | None = None) -> None:
        """End the body; *trailers* become :attr:`Body.trailers`."""
        if self._done:
            return
        self._trailers = trailers
        self._done = True
        self._wake_reader()

    def abort(self, error: BaseException) -> None:
        """End the body with *error*: the reader's next read raises it."""
        if self._done:
            return
        self._error = error
        self._done = True
        self._wake_reader()

    def _get_trailers(self) -> HeaderMap | None:
        return self._trailers

    def _close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._buffered = 0
        self._wake_writer()

    def _reader(self) -> _ChannelReader:
        return _ChannelReader(self)


class _ChannelReader:
    """Async iterator over a :class:`BodySender`'s queue."""

    __slots__ = ("_sender",)

    def __init__(self, sender: BodySender) -> None:
        self._sender = sender

    def __aiter__(self) -> _ChannelReader:
        return self

    async def __anext__(self) -> bytes:
        s = self._sender
        while True:
            if s._queue:
                chunk = s._queue.popleft()
                s._buffered -= len(chunk)
                if s._buffered < s._max_buffer:
                    s._wake_writer()
                return chunk
            if s._done:
                if s._error is not None:
                    err = s._error
                    s._error = None
                    raise err
                raise StopAsyncIteration
            s._reader_waiter = asyncio.get_running_loop().create_future()
            try:
                await s._reader_waiter
            finally:
                s._reader_waiter = None

    async def aclose(self) -> None:
        """The reader is gone: tell the sender."""
        self._sender._close()
