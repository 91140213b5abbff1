from __future__ import annotations

import asyncio
import math
import socket
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pyrama_core import layers, service_fn
from pyrama_core.errors import ConfigError
from pyrama_net import (
    BytesCount,
    BytesTrackerLayer,
    BytesTrackerStream,
    DetachableStream,
    Stream,
    ThrottledStream,
    ThrottleLayer,
    TransportMetricsLayer,
    TransportMetricsStream,
    bridge,
    observe_detached_io,
    open_socket_stream,
)
from pyrama_testing import mock_stream_pair


async def _read_all(s: Stream, n: int = 65536) -> bytes:
    out = bytearray()
    while chunk := await s.read(n):
        out += chunk
    return bytes(out)


# bytes tracker ----------------------------------------------------------------------------
async def test_bytes_tracker_layer_counts_and_leaves_a_handle() -> None:
    x, far = mock_stream_pair()

    @service_fn
    async def echo_upper(stream: Stream) -> int:
        assert isinstance(stream, BytesTrackerStream)
        data = await _read_all(stream)
        stream.write(data.upper())
        stream.write(memoryview(b"!!").cast("B"))
        await stream.drain()
        stream.write_eof()
        return len(data)

    svc = layers(BytesTrackerLayer()).into(echo_upper)
    far.write(b"hello")
    far.write_eof()
    assert await svc.serve(x) == 5
    count = x.extensions.get(BytesCount)  # readable after the fact, from the inner stream
    assert count is not None
    assert (count.read, count.written) == (5, 7)
    assert await _read_all(far) == b"HELLO!!"


async def test_bytes_tracker_is_detachable_only_if_inner_is() -> None:
    x, _ = mock_stream_pair()
    t = BytesTrackerStream(x)
    assert isinstance(t, DetachableStream)
    assert await t.detach_socket() is None


async def test_bytes_tracker_counts_detached_io_reported_by_the_detacher() -> None:
    left, right = socket.socketpair()
    try:
        t = BytesTrackerStream(await open_socket_stream(left))
        res = await t.detach_socket()  # direct call: nobody listens, counting just stops
        assert res is not None
        res[0].close()
        assert observe_detached_io(lambda r, s: None, 0) is False
        await t.close()
    finally:
        right.close()


# throttle ---------------------------------------------------------------------------------
class FakeClock:
    """A clock that only moves when the throttle sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_throttled_reads_follow_the_rate() -> None:
    x, far = mock_stream_pair()
    far.write(bytes(range(256)) * 4)  # 1024 bytes
    far.write_eof()
    clock = FakeClock()
    t = ThrottledStream(x, read_rate=100, burst=100, clock=clock, sleep=clock.sleep)
    sizes = []
    out = bytearray()
    while chunk := await t.read(65536):
        sizes.append(len(chunk))
        out += chunk
    assert out == bytes(range(256)) * 4
    assert sizes[0] == 100  # the initial burst
    assert max(sizes) <= 100
    # 924 bytes beyond the burst at 100 B/s (the final EOF read may wait for one more quantum)
    assert clock.now == pytest.approx(9.24, abs=0.051)
    # no wake-up per byte: reads wait for ~1/20 s worth of bytes
    assert min(sizes[1:-1]) >= 5


async def test_throttle_burst_caps_saved_up_tokens() -> None:
    x, far = mock_stream_pair()
    far.write(b"z" * 10_000)
    clock = FakeClock()
    t = ThrottledStream(x, read_rate=1000, burst=300, clock=clock, sleep=clock.sleep)
    clock.now += 100.0  # idle for a long time: only `burst` tokens are kept
    assert len(await t.read(65536)) == 300
    assert len(await t.read(65536)) == 50  # then 1/20 s worth at a time
    assert clock.sleeps == [pytest.approx(0.05)]


async def test_throttled_writes_are_paid_at_drain() -> None:
    x, far = mock_stream_pair()
    clock = FakeClock()
    t = ThrottledStream(x, write_rate=100, burst=100, clock=clock, sleep=clock.sleep)
    t.write(b"a" * 100)
    await t.drain()
    assert clock.now == 0.0  # within the burst
    t.write(b"b" * 1000)
    await t.drain()
    assert clock.now == pytest.approx(10.0)
    clock.now += 0.5  # time passing refills 50 tokens
    t.write(b"c" * 50)
    await t.drain()
    assert clock.now == pytest.approx(10.5)
    t.write_eof()
    assert await _read_all(far) == b"a" * 100 + b"b" * 1000 + b"c" * 50


async def test_throttle_without_rates_passes_through() -> None:
    x, far = mock_stream_pair()
    clock = FakeClock()
    t = ThrottledStream(x, clock=clock, sleep=clock.sleep)
    far.write(b"q" * 5000)
    assert len(await t.read(65536)) == 5000
    t.write(b"w" * 5000)
    await t.drain()
    assert clock.sleeps == []
    assert not isinstance(t, DetachableStream)  # a splice relay would bypass the limit


@pytest.mark.parametrize(
    "kwargs",
    [
        {"read_rate": 0},
        {"write_rate": -1},
        {"read_rate": math.nan},
        {"read_rate": 10, "burst": 0.5},
    ],
)
def test_throttle_rejects_bad_limits(kwargs: dict[str, Any]) -> None:
    x, _ = mock_stream_pair()
    with pytest.raises(ConfigError):
        ThrottleLayer(**kwargs)
    with pytest.raises(ConfigError):
        ThrottledStream(x, **kwargs)


async def test_throttle_layer_gives_each_stream_its_own_buckets() -> None:
    clock = FakeClock()
    seen: list[int] = []

    @service_fn
    async def first_read(stream: Stream) -> None:
        assert isinstance(stream, ThrottledStream)
        seen.append(len(await stream.read(65536)))

    svc = ThrottleLayer(read_rate=10, burst=40, clock=clock, sleep=clock.sleep).layer(first_read)
    for _ in range(2):
        x, far = mock_stream_pair()
        far.write(b"m" * 1000)
        await svc.serve(x)
    assert seen == [40, 40]
    assert clock.sleeps == []


# transport metrics ------------------------------------------------------------------------
def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    if data is None:
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            assert sm.scope.name == "pyrama.net"
            for m in sm.metrics:
                out[m.name] = list(m.data.data_points)
    return out


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> MeterProvider:
    return MeterProvider(metric_readers=[reader])


async def test_transport_metrics_layer_records_bytes_duration_and_active(
    reader: InMemoryMetricReader, provider: MeterProvider
) -> None:
    layer = TransportMetricsLayer(meter_provider=provider, attributes={"listener": "test"})
    active_seen: list[int] = []

    @service_fn
    async def echo(stream: Stream) -> None:
        assert isinstance(stream, TransportMetricsStream)
        active_seen.append(_points(reader)["pyrama.transport.connections.active"][0].value)
        stream.write(await _read_all(stream))
        await stream.drain()

    svc = layer.layer(echo)
    left, right = socket.socketpair()
    try:
        right.sendall(b"x" * 3000)
        right.shutdown(socket.SHUT_WR)
        await svc.serve(await open_socket_stream(left))
    finally:
        right.close()
    assert active_seen == [1]
    pts = _points(reader)
    (recv,) = pts["pyrama.transport.bytes_received"]
    (sent,) = pts["pyrama.transport.bytes_sent"]
    assert (recv.value, sent.value) == (3000, 3000)
    assert recv.attributes == {"listener": "test", "network.transport": "unix"}
    (dur,) = pts["pyrama.transport.connection.duration"]
    assert dur.count == 1
    assert dur.sum >= 0
    assert "error.type" not in dur.attributes
    (active,) = pts["pyrama.transport.connections.active"]
    assert active.value == 0


async def test_transport_metrics_record_the_error_type(
    reader: InMemoryMetricReader, provider: MeterProvider
) -> None:
    @service_fn
    async def fail(stream: Stream) -> None:
        raise ValueError("nope")

    svc = TransportMetricsLayer(meter_provider=provider).layer(fail)
    x, _ = mock_stream_pair()
    with pytest.raises(ValueError, match="nope"):
        await svc.serve(x)
    pts = _points(reader)
    (dur,) = pts["pyrama.transport.connection.duration"]
    assert dur.attributes == {"error.type": "ValueError"}
    assert pts["pyrama.transport.connections.active"][0].value == 0


async def test_transport_metrics_count_spliced_bytes(
    reader: InMemoryMetricReader, provider: MeterProvider
) -> None:
    @service_fn
    async def relay_to_upstream(stream: Stream) -> None:
        up_a, up_b = socket.socketpair()
        upstream = await open_socket_stream(up_a)
        try:
            up_b.sendall(b"u" * 7000)
            up_b.shutdown(socket.SHUT_WR)
            stats = await bridge(stream, upstream)
            assert stats.zero_copy  # the metrics wrapper did not cost the fast path
            up_b.setblocking(False)
            assert await _read_sock(up_b) == b"d" * 5000
        finally:
            up_b.close()

    svc = TransportMetricsLayer(meter_provider=provider).layer(relay_to_upstream)
    left, right = socket.socketpair()
    try:
        right.sendall(b"d" * 5000)
        right.shutdown(socket.SHUT_WR)
        await svc.serve(await open_socket_stream(left))
        right.setblocking(False)
        got = await _read_sock(right)
    finally:
        right.close()
    assert got == b"u" * 7000
    pts = _points(reader)
    assert pts["pyrama.transport.bytes_received"][0].value == 5000
    assert pts["pyrama.transport.bytes_sent"][0].value == 7000


async def _read_sock(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    out = bytearray()
    while chunk := await loop.sock_recv(sock, 65536):
        out += chunk
    return bytes(out)


async def test_transport_metrics_without_sdk_is_a_no_op() -> None:
    # the global provider is the API's no-op one in this test process
    @service_fn
    async def echo(stream: Stream) -> bytes:
        return await _read_all(stream)

    x, far = mock_stream_pair()
    far.write(b"abc")
    far.write_eof()
    assert await TransportMetricsLayer().layer(echo).serve(x) == b"abc"
