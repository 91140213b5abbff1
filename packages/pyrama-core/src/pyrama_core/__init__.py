"""pyrama-core: services, layers, extensions, errors, graceful shutdown and telemetry."""

from pyrama_core._backoff import ExponentialBackoff, Jitter
from pyrama_core._executor import Executor
from pyrama_core._extensions import Extensions
from pyrama_core._graceful import (
    DEFAULT_SHUTDOWN_DEADLINE,
    Shutdown,
    ShutdownEvent,
    ShutdownGuard,
    ShutdownResult,
    WeakShutdownGuard,
    current_task_of,
    new_task,
)
from pyrama_core._protocols import HasExtensions
from pyrama_core._service import (
    BoxService,
    Identity,
    Layer,
    Service,
    ServiceFn,
    Stack,
    layers,
    service_fn,
)
from pyrama_core._timer_wheel import TimerWheel, timer_wheel
from pyrama_core.errors import PyramaError

__all__ = [
    "DEFAULT_SHUTDOWN_DEADLINE",
    "BoxService",
    "Executor",
    "ExponentialBackoff",
    "Extensions",
    "HasExtensions",
    "Identity",
    "Jitter",
    "Layer",
    "PyramaError",
    "Service",
    "ServiceFn",
    "Shutdown",
    "ShutdownEvent",
    "ShutdownGuard",
    "ShutdownResult",
    "Stack",
    "TimerWheel",
    "WeakShutdownGuard",
    "current_task_of",
    "layers",
    "new_task",
    "service_fn",
    "timer_wheel",
]

__version__ = "0.1.0"
