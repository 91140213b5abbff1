"""Transport metrics: OpenTelemetry counters and histograms for every stream a service handles."""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Generic, TypeVar

from opentelemetry import metrics
from opentelemetry.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.util.types import AttributeValue

from pyrama_core import Service
from pyrama_net._detach import detach_inner
from pyrama_net._socket_stream import SocketInfo
from pyrama_net._stream import Stream
from pyrama_net._wrapper import StreamWrapper, nbytes

__all__ = [
    "TransportMetricsLayer",
    "TransportMetricsService",
    "TransportMetricsStream",
]

T = TypeVar("T")

METER_NAME = "pyrama.net"
BYTES_RECEIVED = "pyrama.transport.bytes_received"
BYTES_SENT = "pyrama.transport.bytes_sent"
CONNECTION_DURATION = "pyrama.transport.connection.duration"
ACTIVE_CONNECTIONS = "pyrama.transport.connections.active"

Attributes = dict[str, AttributeValue]


class _Instruments:
    __slots__ = ("active", "duration", "received", "sent")

    def __init__(self, provider: MeterProvider | None) -> None:
        meter = metrics.get_meter(METER_NAME, meter_provider=provider)
        self.received: Counter = meter.create_counter(
            BYTES_RECEIVED, unit="By", description="Bytes read from transport streams."
        )
        self.sent: Counter = meter.create_counter(
            BYTES_SENT, unit="By", description="Bytes written to transport streams."
        )
        self.duration: Histogram = meter.create_histogram(
            CONNECTION_DURATION, unit="s", description="How long a stream was served."
        )
        self.active: UpDownCounter = meter.create_up_down_counter(
            ACTIVE_CONNECTIONS, unit="{connection}", description="Streams being served now."
        )


def _socket_attributes(stream: Stream) -> Attributes:
    info = stream.extensions.get(SocketInfo)
    if info is None:
        return {}
    if info.family == socket.AF_INET:
        return {"network.transport": "tcp", "network.type": "ipv4"}
    if info.family == socket.AF_INET6:
        return {"network.transport": "tcp", "network.type": "ipv6"}
    if info.family == getattr(socket, "AF_UNIX", None):
        return {"network.transport": "unix"}
    return {}


class TransportMetricsStream(StreamWrapper):
    """A Stream that adds the bytes it reads and writes to OpenTelemetry counters.

    Made by :class:`TransportMetricsLayer`. It stays detachable: bytes a zero-copy relay moves
    over the detached socket are counted too (see :func:`~pyrama_net.observe_detached_io`).
    """

    __slots__ = ("_attrs", "_received", "_sent")

    def __init__(
        self, inner: Stream, received: Counter, sent: Counter, attributes: Attributes
    ) -> None:
        super().__init__(inner)
        self._received = received
        self._sent = sent
        self._attrs = attributes

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Read from the inner stream and count the bytes received."""
        data = await self._inner.read(max_bytes)
        if data:
            self._received.add(len(data), self._attrs)
        return data

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Write to the inner stream and count the bytes sent."""
        self._inner.write(data)
        n = nbytes(data)
        if n:
            self._sent.add(n, self._attrs)

    def _add_detached(self, received: int, sent: int) -> None:
        if received:
            self._received.add(received, self._attrs)
        if sent:
            self._sent.add(sent, self._attrs)

    async def detach_socket(self) -> tuple[socket.socket, bytes] | None:
        """Forward to the inner stream; bytes moved over the socket keep being counted."""
        return await detach_inner(self._inner, self._add_detached)


class TransportMetricsService(Generic[T]):
    """The service made by :class:`TransportMetricsLayer`."""

    __slots__ = ("_attrs", "_inst", "inner")

    def __init__(
        self, inner: Service[Stream, T], instruments: _Instruments, attributes: Attributes
    ) -> None:
        self.inner = inner
        self._inst = instruments
        self._attrs = attributes

    async def serve(self, stream: Stream, /) -> T:
        """Serve *stream* wrapped in a :class:`TransportMetricsStream`, timing the connection."""
        inst = self._inst
        attrs = {**self._attrs, **_socket_attributes(stream)}
        wrapped = TransportMetricsStream(stream, inst.received, inst.sent, attrs)
        inst.active.add(1, attrs)
        start = time.perf_counter()
        error: str | None = None
        try:
            return await self.inner.serve(wrapped)
        except BaseException as exc:
            error = type(exc).__qualname__
            raise
        finally:
            inst.active.add(-1, attrs)
            done = attrs if error is None else {**attrs, "error.type": error}
            inst.duration.record(time.perf_counter() - start, done)


class TransportMetricsLayer:
    """Layer that records OpenTelemetry metrics for every stream, on the meter ``pyrama.net``.

    Instruments: ``pyrama.transport.bytes_received`` and ``pyrama.transport.bytes_sent``
    (counters, bytes), ``pyrama.transport.connection.duration`` (histogram, seconds, with
    ``error.type`` when the service raised) and ``pyrama.transport.connections.active``
    (up-down counter). Each data point carries *attributes* plus ``network.transport`` /
    ``network.type`` derived from the stream's :class:`~pyrama_net.SocketInfo`.

    Uses the global meter provider unless *meter_provider* is given; without the OpenTelemetry
    SDK configured, the API's no-op instruments cost next to nothing.
    """

    __slots__ = ("_attrs", "_inst")

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        self._inst = _Instruments(meter_provider)
        self._attrs: Attributes = dict(attributes or {})

    def layer(self, inner: Service[Stream, T], /) -> TransportMetricsService[T]:
        """Wrap *inner*."""
        return TransportMetricsService(inner, self._inst, self._attrs)

    def __repr__(self) -> str:
        return f"TransportMetricsLayer(attributes={self._attrs!r})"
