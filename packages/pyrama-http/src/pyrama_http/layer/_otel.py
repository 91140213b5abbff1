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


def _spans_reach_anyone(tracer: trace.Tracer) -> bool:
    """Whether a span of *tracer* can be seen after it ends (some span processor takes it).

    ``False`` for the API's no-op tracer (also behind the global proxy while no SDK is
    installed) and for an SDK tracer whose provider has no span processor (yet: checked per
    request, so one added later counts). Unknown tracers count as seen.
    """
    real: object = tracer
    if isinstance(real, trace.ProxyTracer):
        real = real._tracer  # resolves the global provider's tracer once there is one
    if isinstance(real, trace.NoOpTracer):
        return False
    processors = getattr(getattr(real, "span_processor", None), "_span_processors", None)
    return not (isinstance(processors, tuple) and not processors)


def _metrics_reach_anyone(instrument: object) -> bool:
    """Whether a measurement of *instrument* reaches a metric reader.

    ``False`` behind the global proxy while no SDK meter provider is installed, and for an
    SDK instrument whose provider has no metric reader (checked per request, so a reader
    added later counts). Unknown instruments count as read.
    """
    real = instrument
    if hasattr(real, "_real_instrument"):  # the API's proxy instrument
        real = real._real_instrument
        if real is None:
            return False
    storages = getattr(getattr(real, "_measurement_consumer", None), "_reader_storages", None)
    return not (isinstance(storages, dict) and not storages)


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
        # what nobody would see is not computed: the attributes when neither a span
        # processor nor a metric reader is installed, the measurements without a reader
        spans_seen = _spans_reach_anyone(self._tracer)
        metered = _metrics_reach_anyone(self._duration)
        attrs: dict[str, Any]
        if spans_seen or metered:
            attrs, span_attrs = self._attributes(request)
            method = attrs["http.request.method"]
        else:
            attrs, span_attrs = {}, {}
            method = str(request.method)
            if method not in _KNOWN_METHODS:
                method = "_OTHER"
        name = "HTTP" if method == "_OTHER" else method
        kind = SpanKind.CLIENT if self._client else SpanKind.SERVER
        parent = None if self._client else propagate.extract(request.headers, getter=_GETTER)
        span = self._tracer.start_span(
            name,
            context=parent,
            kind=kind,
            attributes={**attrs, **span_attrs} if spans_seen else None,
        )
        active_attrs: dict[str, Any] | None = None
        if metered:
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
        if spans_seen:
            span.set_attribute("http.response.status_code", status)
        if status >= 500 or (self._client and status >= 400):
            attrs["error.type"] = str(status)
            if spans_seen:
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
        active_attrs: dict[str, Any] | None,
    ) -> None:
        if active_attrs is not None:  # metered when the exchange started
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
    costs next to nothing. Work nobody would see is skipped, checked per request: without a
    metric reader no measurement is made, and without a span processor (or with the no-op
    tracer) the span is started without attributes (it is still the current span, with its
    ids and parent, for the inner service).
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
