"""OpenTelemetry for HTTP: spans and request metrics per the HTTP semantic conventions."""

from __future__ import annotations

import time
from typing import Any, Final, Literal

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import SpanKind, Status, StatusCode

from pyrama_core.telemetry import meter as get_meter
from pyrama_core.telemetry import tracer as get_tracer
from pyrama_http.layer._util import HttpService, ObservedBody
from pyrama_http_types import HeaderMap, Request, Response, Version
from pyrama_net import SocketInfo

__all__ = ["OpenTelemetryLayer", "OpenTelemetryService"]

_SCOPE: Final = "pyrama.http"
_KNOWN_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)
# bucket boundaries the semantic conventions advise for request durations (seconds)
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class _HeaderGetter(Getter[HeaderMap]):
    def get(self, carrier: HeaderMap, key: str) -> list[str] | None:
        values = carrier.get_all(key)
        return values or None

    def keys(self, carrier: HeaderMap) -> list[str]:
        return carrier.names()


class _HeaderSetter(Setter[HeaderMap]):
    def set(self, carrier: HeaderMap, key: str, value: str) -> None:
        carrier.set(key, value)


_GETTER: Final = _HeaderGetter()
_SETTER: Final = _HeaderSetter()


def _protocol_version(version: Version) -> str:
    text = str(version)
    return {"HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2": "2", "HTTP/3": "3"}.get(
        text, text.removeprefix("HTTP/")
    )


class OpenTelemetryService:
    """Records spans and metrics (see :class:`OpenTelemetryLayer`)."""

    __slots__ = ("_active", "_client", "_duration", "_tracer", "inner")

    def __init__(
        self,
        inner: HttpService,
        side: str,
        tracer: trace.Tracer,
        meter: metrics.Meter,
    ) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._client = side == "client"
        self._tracer = tracer
        prefix = "http.client" if self._client else "http.server"
        self._duration = meter.create_histogram(
            f"{prefix}.request.duration",
            unit="s",
            description=f"Duration of HTTP {'client' if self._client else 'server'} requests.",
            explicit_bucket_boundaries_advisory=list(_BUCKETS),
        )
        self._active = meter.create_up_down_counter(
            f"{prefix}.active_requests" if not self._client else "http.client.active_requests",
            unit="{request}",
            description="Number of active HTTP requests.",
        )

    def _attributes(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metric attributes, extra span attributes) of *request*."""
        method = str(request.method)
        uri = request.uri
        attrs: dict[str, Any] = {}
        if method in _KNOWN_METHODS:
            attrs["http.request.method"] = method
        else:
            attrs["http.request.method"] = "_OTHER"
        scheme = uri.scheme
        if scheme is None:
            from pyrama_tls import NegotiatedTls

            scheme = "https" if request.extensions.get(NegotiatedTls) is not None else "http"
        attrs["url.scheme"] = scheme
        attrs["network.protocol.name"] = "http"
        attrs["network.protocol.version"] = _protocol_version(request.version)
        host = uri.host
        port = uri.port
        if host is None:
            raw = request.headers.get("host")
            if raw:
                h, _, p = raw.rpartition(":") if not raw.endswith("]") else (raw, "", "")
                if h and p.isdigit():
                    host_text, port = h.strip("[]"), int(p)
                else:
                    host_text = raw.strip("[]")
                attrs["server.address"] = host_text
        else:
            attrs["server.address"] = str(host)
        if port is not None:
            attrs["server.port"] = port
        span_attrs: dict[str, Any] = {"url.path": uri.path}
        if uri.query is not None:
            span_attrs["url.query"] = uri.query
        if self._client:
            span_attrs["url.full"] = str(uri.without_userinfo()) if uri.is_absolute else str(uri)
        else:
            info = request.extensions.get(SocketInfo)
            peer = info.peer_address if info is not None else None
            if peer is not None:
                span_attrs["client.address"] = str(peer.ip)
                span_attrs["client.port"] = peer.port
        if method not in _KNOWN_METHODS:
            span_attrs["http.request.method_original"] = method
        ua = request.headers.get("user-agent")
        if ua is not None:
            span_attrs["user_agent.original"] = ua
        return attrs, span_attrs

    async def serve(self, request: Request, /) -> Response:
        """Serve *request* inside a span; record the duration once the body is done."""
        attrs, span_attrs = self._attributes(request)
        method = attrs["http.request.method"]
        name = "HTTP" if method == "_OTHER" else method
        kind = SpanKind.CLIENT if self._client else SpanKind.SERVER
        parent = None if self._client else propagate.extract(request.headers, getter=_GETTER)
        span = self._tracer.start_span(
            name, context=parent, kind=kind, attributes={**attrs, **span_attrs}
        )
        active_attrs = {
            k: v
            for k, v in attrs.items()
            if k in ("http.request.method", "url.scheme", "server.address", "server.port")
        }
        self._active.add(1, active_attrs)
        start = time.perf_counter()
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            if self._client:
                propagate.inject(request.headers, setter=_SETTER)
            try:
                response = await self.inner.serve(request)
            finally:
                otel_context.detach(token)
        except BaseException as exc:
            attrs["error.type"] = type(exc).__qualname__
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
            span.set_attribute("error.type", attrs["error.type"])
            self._finish(span, start, attrs, active_attrs)
            raise
        status = int(response.status)
        attrs["http.response.status_code"] = status
        span.set_attribute("http.response.status_code", status)
        if status >= 500 or (self._client and status >= 400):
            attrs["error.type"] = str(status)
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        if response.body.is_in_memory:
            self._finish(span, start, attrs, active_attrs)
            return response

        def on_end(exc: BaseException | None) -> None:
            if exc is not None and "error.type" not in attrs:
                attrs["error.type"] = type(exc).__qualname__
                span.set_attribute("error.type", attrs["error.type"])
            self._finish(span, start, attrs, active_attrs)

        response.body = ObservedBody(response.body, on_end=on_end)
        return response

    def _finish(
        self,
        span: trace.Span,
        start: float,
        attrs: dict[str, Any],
        active_attrs: dict[str, Any],
    ) -> None:
        self._duration.record(time.perf_counter() - start, attrs)
        self._active.add(-1, active_attrs)
        span.end()


class OpenTelemetryLayer:
    """Spans and request metrics following OpenTelemetry's HTTP semantic conventions.

    Server side (default): a ``SERVER`` span per request, continuing a ``traceparent``
    the request carries, the histogram ``http.server.request.duration`` (seconds) and the
    counter ``http.server.active_requests``. Client side (:meth:`client`): a ``CLIENT``
    span whose context is injected into the request headers, ``http.client.request.duration``
    and ``http.client.active_requests``. Attributes: ``http.request.method``,
    ``url.scheme``, ``http.response.status_code``, ``network.protocol.version``,
    ``server.address``/``server.port``, ``error.type``; spans add ``url.path``,
    ``url.query``, ``client.address``, ``user_agent.original`` (``url.full`` on clients).
    A duration runs until the response body has been streamed. Server spans are errors for
    5xx, client spans for 4xx and 5xx.

    Tracer and meter come from :func:`pyrama_core.telemetry.tracer` / ``meter`` (global
    providers unless *tracer_provider* / *meter_provider* are given): without an SDK this
    costs next to nothing.
    """

    __slots__ = ("_meter", "_side", "_tracer")

    def __init__(
        self,
        side: Literal["server", "client"] = "server",
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        """Instrument the *side* of an exchange."""
        if side not in ("server", "client"):
            raise ValueError(f"side must be 'server' or 'client', got {side!r}")
        self._side = side
        self._tracer = get_tracer(_SCOPE, tracer_provider=tracer_provider)
        self._meter = get_meter(_SCOPE, meter_provider=meter_provider)

    @classmethod
    def client(
        cls,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> OpenTelemetryLayer:
        """The client-side instrumentation."""
        return cls("client", tracer_provider=tracer_provider, meter_provider=meter_provider)

    def layer(self, inner: HttpService, /) -> OpenTelemetryService:
        """Wrap *inner*."""
        return OpenTelemetryService(inner, self._side, self._tracer, self._meter)
