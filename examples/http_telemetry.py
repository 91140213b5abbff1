r"""An HTTP service instrumented with OpenTelemetry: spans, request metrics, access logs.

The stack (first = outermost)::

    OpenTelemetryLayer  a SERVER span per request (continuing a client's ``traceparent``)
                        and the ``http.server.request.duration`` histogram / active requests
    RequestIdLayer      ``x-request-id`` made when missing, echoed on the response
    TraceLayer          one structured access-log line per request
    handler             ``/`` hello, ``/metrics`` the metrics collected so far (JSON)

OpenTelemetry's SDK is set up with :func:`pyrama_core.telemetry.setup_opentelemetry`: ended
spans are logged (``span ended name=GET trace_id=... status_code=200``) by a small span
processor, and metrics are read on demand by an in-memory reader that ``/metrics`` renders
(a real deployment would give an OTLP exporter instead).

Run it::

    python examples/http_telemetry.py                   # 127.0.0.1:62021
    PORT=0 python examples/http_telemetry.py

Then::

    curl -i http://127.0.0.1:62021/hello     # see x-request-id; the server logs the span
    # the span joins trace 0af7651916cd43dd8448eb211c80319c:
    curl -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' \
        http://127.0.0.1:62021/hello
    curl http://127.0.0.1:62021/metrics      # request counts and durations by status

Ctrl-C (or SIGTERM) stops the server gracefully.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from pyrama_core import Service, Shutdown, layers, service_fn
from pyrama_core.telemetry import get_logger, setup_logging, setup_opentelemetry
from pyrama_http import HttpServer
from pyrama_http.layer import OpenTelemetryLayer, RequestId, RequestIdLayer, TraceLayer
from pyrama_http_types import Request, Response
from pyrama_net import SocketAddress

DEFAULT_PORT = 62021

log = get_logger("http_telemetry")


class LogSpans(SpanProcessor):
    """Logs every span that ends (stands in for an exporter)."""

    def on_end(self, span: ReadableSpan) -> None:
        """Log the span's name, ids and main attributes."""
        ctx = span.get_span_context()
        attrs = dict(span.attributes or {})
        parent = span.parent
        log.info(
            "span ended",
            name=span.name,
            kind=span.kind.name,
            trace_id=f"{ctx.trace_id:032x}" if ctx else None,
            span_id=f"{ctx.span_id:016x}" if ctx else None,
            parent_span_id=f"{parent.span_id:016x}" if parent else None,
            status_code=attrs.get("http.response.status_code"),
            path=attrs.get("url.path"),
        )


def metrics_json(reader: InMemoryMetricReader) -> list[dict[str, Any]]:
    """The collected HTTP metric points as plain data."""
    out: list[dict[str, Any]] = []
    data = reader.get_metrics_data()
    if data is None:
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    item: dict[str, Any] = {
                        "name": metric.name,
                        "attributes": dict(point.attributes or {}),
                    }
                    if isinstance(point, NumberDataPoint):
                        item["value"] = point.value
                    else:
                        item["count"] = point.count
                        item["sum"] = point.sum
                    out.append(item)
    return out


def build(reader: InMemoryMetricReader) -> Service[Request, Response]:
    """The instrumented service."""

    async def handler(request: Request) -> Response:
        if request.uri.path == "/metrics":
            return Response.json(metrics_json(reader))
        rid = request.extensions.require(RequestId)
        return Response.text(f"hello {request.uri.path} (request {rid})\n")

    svc: Service[Request, Response] = layers(
        OpenTelemetryLayer(), RequestIdLayer(), TraceLayer()
    ).into(service_fn(handler))
    return svc


async def main(port: int) -> None:
    """Set up OpenTelemetry and serve until SIGINT/SIGTERM."""
    reader = InMemoryMetricReader()
    providers = setup_opentelemetry(
        service_name="http_telemetry", span_processors=[LogSpans()], metric_readers=[reader]
    )

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    try:
        await HttpServer.auto().listen(
            ("127.0.0.1", port),
            build(reader),
            shutdown=Shutdown.with_signals(deadline=5.0),
            on_listening=bound,
        )
    finally:
        providers.shutdown()
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(main(int(os.environ.get("PORT", DEFAULT_PORT))))
