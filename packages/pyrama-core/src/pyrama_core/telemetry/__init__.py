"""Telemetry: structured logging (structlog) and OpenTelemetry tracing and metrics.

pyrama's components log through :func:`get_logger` and instrument through :func:`tracer`
and :func:`meter`, which cost next to nothing until an application configures them with
:func:`setup_logging` and :func:`setup_opentelemetry` (the latter needs the optional
``pyrama-core[telemetry]`` extra).
"""

from pyrama_core.telemetry._logging import LogFormat, debug_enabled, get_logger, setup_logging
from pyrama_core.telemetry._otel import (
    TelemetryProviders,
    meter,
    setup_opentelemetry,
    tracer,
)

__all__ = [
    "LogFormat",
    "TelemetryProviders",
    "debug_enabled",
    "get_logger",
    "meter",
    "setup_logging",
    "setup_opentelemetry",
    "tracer",
]
