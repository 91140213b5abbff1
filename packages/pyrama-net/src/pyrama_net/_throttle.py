"""Throttle: limit a stream's read and/or write rate (bytes per second) with token buckets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pyrama_core import Service
from pyrama_core.errors import ConfigError
from pyrama_net._stream import Stream
from pyrama_net._wrapper import StreamWrapper, nbytes

__all__ = ["ThrottleLayer", "ThrottleService", "ThrottledStream"]

T = TypeVar("T")

# float rounding must not turn "slept exactly long enough" into another (zero-length) sleep
_EPSILON = 1e-6

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class _Bucket:
    """A token bucket: *rate* tokens (bytes) per second, at most *burst* saved up."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = now

    def refill(self, now: float) -> None:
        if now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now


def _validate(read_rate: float | None, write_rate: float | None, burst: float | None) -> None:
    for name, rate in (("read_rate", read_rate), ("write_rate", write_rate)):
        if rate is not None and not rate > 0:
            raise ConfigError(f"{name} must be positive bytes/s, got {rate!r}")
    if burst is not None and not burst >= 1:
        raise ConfigError(f"burst must be at least 1 byte, got {burst!r}")


class ThrottledStream(StreamWrapper):
    """A Stream whose reads and/or writes are limited to a rate in bytes per second.

    Each direction has a token bucket holding at most *burst* bytes (default: one second's
    worth, at least 1):

    * reading reads at most as many bytes as there are tokens, so reads never run ahead of the
      rate; with an empty bucket it first waits for a useful amount (about 1/20 s worth of
      bytes, capped by *burst* and ``max_bytes``) instead of waking up for every byte;
    * writing passes bytes through at once and takes their tokens, possibly going into debt;
      :meth:`drain` first waits until the debt is paid. The rate therefore holds on average at
      every ``drain()``, and a single write may leave in one burst of its own size.

    *clock* (seconds, monotonic) and *sleep* can be injected for tests; they default to
    ``time.monotonic`` and ``asyncio.sleep``. A throttled stream is deliberately not detachable:
    a zero-copy relay would bypass the limit, so :func:`~pyrama_net.bridge` uses its buffered
    path for it.
    """

    __slots__ = ("_clock", "_read_bucket", "_sleep", "_write_bucket")

    def __init__(
        self,
        inner: Stream,
        *,
        read_rate: float | None = None,
        write_rate: float | None = None,
        burst: float | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        _validate(read_rate, write_rate, burst)
        super().__init__(inner)
        self._clock: Clock = time.monotonic if clock is None else clock
        self._sleep: Sleep = asyncio.sleep if sleep is None else sleep
        now = self._clock()
        self._read_bucket = (
            None if read_rate is None else _Bucket(read_rate, _burst(read_rate, burst), now)
        )
        self._write_bucket = (
            None if write_rate is None else _Bucket(write_rate, _burst(write_rate, burst), now)
        )

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Read at most as many bytes as the read bucket allows, waiting for tokens first."""
        bucket = self._read_bucket
        if bucket is None:
            return await self._inner.read(max_bytes)
        bucket.refill(self._clock())
        if bucket.tokens < 1:
            # wait for a useful amount, not for one byte: at most ~20 wake-ups per second
            want = max(1.0, min(max_bytes, bucket.burst, bucket.rate / 20))
            while bucket.tokens + _EPSILON < want:
                await self._sleep((want - bucket.tokens) / bucket.rate)
                bucket.refill(self._clock())
        data = await self._inner.read(max(1, min(max_bytes, int(bucket.tokens + _EPSILON))))
        bucket.tokens -= len(data)
        return data

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Queue *data* on the inner stream and charge the write bucket for it."""
        self._inner.write(data)
        bucket = self._write_bucket
        if bucket is not None:
            bucket.refill(self._clock())
            bucket.tokens -= nbytes(data)

    async def drain(self) -> None:
        """Wait until the write bucket's debt is paid, then for the inner stream's queue."""
        bucket = self._write_bucket
        if bucket is not None:
            bucket.refill(self._clock())
            while bucket.tokens < -_EPSILON:
                await self._sleep(-bucket.tokens / bucket.rate)
                bucket.refill(self._clock())
        await self._inner.drain()


def _burst(rate: float, burst: float | None) -> float:
    return max(1.0, rate) if burst is None else burst


class ThrottleService(Generic[T]):
    """The service made by :class:`ThrottleLayer`: throttles each stream, then calls *inner*."""

    __slots__ = ("_burst", "_clock", "_read_rate", "_sleep", "_write_rate", "inner")

    def __init__(
        self,
        inner: Service[Stream, T],
        read_rate: float | None,
        write_rate: float | None,
        burst: float | None,
        clock: Clock | None,
        sleep: Sleep | None,
    ) -> None:
        self.inner = inner
        self._read_rate = read_rate
        self._write_rate = write_rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep

    async def serve(self, stream: Stream, /) -> T:
        """Serve *stream* wrapped in a :class:`ThrottledStream` with its own buckets."""
        throttled = ThrottledStream(
            stream,
            read_rate=self._read_rate,
            write_rate=self._write_rate,
            burst=self._burst,
            clock=self._clock,
            sleep=self._sleep,
        )
        return await self.inner.serve(throttled)


class ThrottleLayer:
    """Layer that limits every stream's read and/or write rate (bytes/s, per connection).

    See :class:`ThrottledStream` for the exact semantics. Each stream gets its own buckets.
    """

    __slots__ = ("_burst", "_clock", "_read_rate", "_sleep", "_write_rate")

    def __init__(
        self,
        *,
        read_rate: float | None = None,
        write_rate: float | None = None,
        burst: float | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        _validate(read_rate, write_rate, burst)
        self._read_rate = read_rate
        self._write_rate = write_rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep

    def layer(self, inner: Service[Stream, T], /) -> ThrottleService[T]:
        """Wrap *inner*."""
        return ThrottleService(
            inner, self._read_rate, self._write_rate, self._burst, self._clock, self._sleep
        )

    def __repr__(self) -> str:
        return f"ThrottleLayer(read_rate={self._read_rate}, write_rate={self._write_rate})"
