"""OpenTelemetryLayer: spans and metrics per the HTTP semantic conventions (in-memory SDK)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from http_support import running
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from pyrama_core import service_fn
from pyrama_http import EasyHttpWebClient
from pyrama_http.layer import OpenTelemetryLayer
from pyrama_http_types import Body, Request, Response


class Sdk:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def layer(self, side: str = "server") -> OpenTelemetryLayer:
        return OpenTelemetryLayer(
            side,  # type: ignore[arg-type]
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
        )

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        assert data is not None
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)
        return out


async def site(req: Request) -> Response:
    if req.uri.path == "/fail":
        return Response.text("broken", 503)
    if req.uri.path == "/raise":
        raise RuntimeError("bug")

    async def gen() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    return Response(200, body=Body.from_iter(gen()))


async def test_server_span_and_duration_histogram() -> None:
    sdk = Sdk()
    svc = sdk.layer().layer(service_fn(site))
    resp = await svc.serve(
        Request("GET", "/items?q=1", headers=[("Host", "example.com:8080"), ("User-Agent", "t/1")])
    )
    assert sdk.spans.get_finished_spans() == ()  # the span lasts until the body is done
    assert await resp.body.collect() == b"ab"
    (span,) = sdk.spans.get_finished_spans()
    assert span.name == "GET"
    assert span.kind is SpanKind.SERVER
    attrs = dict(span.attributes or {})
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.scheme"] == "http"
    assert attrs["url.path"] == "/items"
    assert attrs["url.query"] == "q=1"
    assert attrs["server.address"] == "example.com"
    assert attrs["server.port"] == 8080
    assert attrs["http.response.status_code"] == 200
    assert attrs["user_agent.original"] == "t/1"
    assert attrs["network.protocol.version"] == "1.1"
    (point,) = sdk.points("http.server.request.duration")
    assert point.count == 1
    assert point.attributes["http.response.status_code"] == 200
    assert point.attributes["http.request.method"] == "GET"
    assert "url.path" not in point.attributes  # high cardinality stays on the span
    (active,) = sdk.points("http.server.active_requests")
    assert active.value == 0


async def test_server_errors() -> None:
    sdk = Sdk()
    svc = sdk.layer().layer(service_fn(site))
    r = await svc.serve(Request("GET", "/fail"))
    await r.body.collect()
    with pytest.raises(RuntimeError):
        await svc.serve(Request("BREW", "/raise"))
    failed, raised = sdk.spans.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "503"
    assert raised.name == "HTTP"
    assert raised.attributes is not None
    assert raised.attributes["http.request.method"] == "_OTHER"
    assert raised.attributes["http.request.method_original"] == "BREW"
    assert raised.attributes["error.type"] == "RuntimeError"
    types = sorted(
        p.attributes.get("error.type") for p in sdk.points("http.server.request.duration")
    )
    assert types == ["503", "RuntimeError"]


async def test_client_and_server_share_a_trace_over_loopback() -> None:
    sdk = Sdk()
    async with running(sdk.layer().layer(service_fn(site))) as srv, EasyHttpWebClient() as c:
        client = sdk.layer("client").layer(c)
        resp = await client.serve(Request("GET", srv.url + "/x"))
        assert await resp.body.collect() == b"ab"
    spans = {s.kind: s for s in sdk.spans.get_finished_spans()}
    server, client_span = spans[SpanKind.SERVER], spans[SpanKind.CLIENT]
    assert server.context.trace_id == client_span.context.trace_id
    assert server.parent is not None
    assert server.parent.span_id == client_span.context.span_id
    assert client_span.attributes is not None
    assert client_span.attributes["url.full"] == srv.url + "/x"
    assert client_span.attributes["server.address"] == "127.0.0.1"
    assert client_span.attributes["server.port"] == srv.port
    assert server.attributes is not None
    assert server.attributes["client.address"] == "127.0.0.1"
    (point,) = sdk.points("http.client.request.duration")
    assert point.attributes["http.response.status_code"] == 200
    assert point.count == 1


# -- the fast path when nothing would see the telemetry ---------------------------------------


async def hello(req: Request) -> Response:
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    return Response.text(f"{ctx.trace_id:032x}")


async def test_without_processor_or_reader_the_span_is_still_current_and_valid() -> None:
    from pyrama_http.layer._otel import _metrics_reach_anyone, _spans_reach_anyone

    tracer_provider, meter_provider = TracerProvider(), MeterProvider()
    layer = OpenTelemetryLayer(tracer_provider=tracer_provider, meter_provider=meter_provider)
    svc = layer.layer(service_fn(hello))
    assert not _spans_reach_anyone(svc._tracer)
    assert not _metrics_reach_anyone(svc._duration)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    resp = await svc.serve(Request("GET", "/x", headers=[("traceparent", parent)]))
    # the inner service still runs inside a real span continuing the caller's trace
    assert await resp.body.collect() == b"0af7651916cd43dd8448eb211c80319c"


async def test_a_processor_and_a_reader_added_later_see_the_next_exchanges() -> None:
    from pyrama_http.layer._otel import _metrics_reach_anyone, _spans_reach_anyone

    tracer_provider, meter_provider = TracerProvider(), MeterProvider()
    svc = OpenTelemetryLayer(tracer_provider=tracer_provider, meter_provider=meter_provider).layer(
        service_fn(hello)
    )
    await (await svc.serve(Request("GET", "/before"))).body.collect()
    spans = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider.add_metric_reader(reader)
    assert _spans_reach_anyone(svc._tracer)
    assert _metrics_reach_anyone(svc._duration)
    resp = await svc.serve(Request("POST", "http://api.example:8080/after?q=1"))
    await resp.body.collect()
    (span,) = spans.get_finished_spans()
    assert span.name == "POST"
    assert span.kind == SpanKind.SERVER
    attrs = dict(span.attributes or {})
    assert attrs["http.request.method"] == "POST"
    assert attrs["url.path"] == "/after"
    assert attrs["url.query"] == "q=1"
    assert attrs["server.address"] == "api.example"
    assert attrs["server.port"] == 8080
    assert attrs["http.response.status_code"] == 200
    data = reader.get_metrics_data()
    assert data is not None
    names = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    (point,) = names["http.server.request.duration"].data.data_points
    assert point.count == 1  # only the exchange after the reader came
    assert dict(point.attributes)["http.response.status_code"] == 200
    (active,) = names["http.server.active_requests"].data.data_points
    assert active.value == 0  # balanced: the one before the reader was never counted


async def test_global_proxies_without_an_sdk_are_skipped() -> None:
    from opentelemetry import metrics, trace

    from pyrama_http.layer._otel import _metrics_reach_anyone, _spans_reach_anyone

    tracer = trace.ProxyTracer("pyrama.test")
    assert not _spans_reach_anyone(trace.NoOpTracer())
    meter = metrics.NoOpMeter("pyrama.test")
    hist = meter.create_histogram("h")
    assert _metrics_reach_anyone(hist)  # unknown kinds count as read (the no-op is cheap)
    # a proxy tracer with no global SDK provider resolves to the no-op tracer
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        assert not _spans_reach_anyone(tracer)
    svc = OpenTelemetryLayer().layer(service_fn(hello))
    resp = await svc.serve(Request("GET", "/"))
    assert int(resp.status) == 200
