"""OpenTelemetry helpers: API-only tracers and meters, and optional SDK setup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

from pyrama_core.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["TelemetryProviders", "meter", "setup_opentelemetry", "tracer"]

_INSTALL_HINT = "pip install 'pyrama-core[telemetry]'"


def tracer(
    name: str,
    version: str | None = None,
    *,
    tracer_provider: trace.TracerProvider | None = None,
) -> trace.Tracer:
    """An OpenTelemetry tracer for instrumentation scope *name*.

    Uses the global tracer provider unless one is given: a no-op until an application
    installs an SDK (for example with :func:`setup_opentelemetry`).
    """
    return trace.get_tracer(name, version, tracer_provider)


def meter(
    name: str,
    version: str | None = None,
    *,
    meter_provider: metrics.MeterProvider | None = None,
) -> metrics.Meter:
    """An OpenTelemetry meter for instrumentation scope *name* (no-op unless configured)."""
    return metrics.get_meter(name, version or "", meter_provider)


@dataclass(frozen=True, slots=True)
class TelemetryProviders:
    """The SDK providers :func:`setup_opentelemetry` built."""

    tracer_provider: SdkTracerProvider
    meter_provider: SdkMeterProvider

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything buffered now; whether both providers managed it in time."""
        spans_ok = self.tracer_provider.force_flush(timeout_millis)
        metrics_ok = self.meter_provider.force_flush(timeout_millis)
        return bool(spans_ok and metrics_ok)

    def shutdown(self) -> None:
        """Flush and shut down both providers (call once, at exit)."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_opentelemetry(
    *,
    service_name: str = "pyrama",
    service_version: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    span_exporters: Sequence[SpanExporter] = (),
    span_processors: Sequence[SpanProcessor] = (),
    batch_spans: bool = True,
    metric_readers: Sequence[MetricReader] = (),
    set_global: bool = True,
) -> TelemetryProviders:
    """Install OpenTelemetry SDK tracer and meter providers.

    Needs the optional SDK (``pip install 'pyrama-core[telemetry]'``); without it a
    :class:`~pyrama_core.errors.ConfigError` says so. Spans go to *span_exporters* (through
    a batch processor, or a simple one with ``batch_spans=False``) and any extra
    *span_processors*; metrics are collected by *metric_readers* (for example a
    ``PeriodicExportingMetricReader``). The resource carries *service_name*,
    *service_version* and *resource_attributes*.

    With *set_global* (default) the providers become OpenTelemetry's global ones, which
    OpenTelemetry allows once per process: a second attempt raises ``ConfigError``.
    """
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise ConfigError(
            f"setup_opentelemetry needs the OpenTelemetry SDK: {_INSTALL_HINT}"
        ) from exc

    attributes: dict[str, Any] = {"service.name": service_name}
    if service_version is not None:
        attributes["service.version"] = service_version
    if resource_attributes:
        attributes.update(resource_attributes)
    resource = Resource.create(attributes)

    tracer_provider = TracerProvider(resource=resource)
    for exporter in span_exporters:
        processor: SpanProcessor = (
            BatchSpanProcessor(exporter) if batch_spans else SimpleSpanProcessor(exporter)
        )
        tracer_provider.add_span_processor(processor)
    for extra in span_processors:
        tracer_provider.add_span_processor(extra)
    meter_provider = MeterProvider(resource=resource, metric_readers=list(metric_readers))

    if set_global:
        trace.set_tracer_provider(tracer_provider)
        if trace.get_tracer_provider() is not tracer_provider:
            tracer_provider.shutdown()
            meter_provider.shutdown()
            raise ConfigError("a global OpenTelemetry TracerProvider is already installed")
        metrics.set_meter_provider(meter_provider)
        if metrics.get_meter_provider() is not meter_provider:
            meter_provider.shutdown()
            raise ConfigError("a global OpenTelemetry MeterProvider is already installed")
    return TelemetryProviders(tracer_provider, meter_provider)
