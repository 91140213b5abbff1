"""Core layers: timeouts, limits, mapping, error tracing and consuming, extensions.

Named like rama's ``rama::layer``; note that :func:`pyrama_core.layers` (plural) is the
function that stacks layers, while this package (singular) holds the layers themselves.
"""

from pyrama_core.layer._add_extension import AddExtensionLayer, AddExtensionService
from pyrama_core.layer._consume_err import ConsumeErrLayer, ConsumeErrService
from pyrama_core.layer._limit import (
    NOOP_PERMIT,
    ConcurrencyLimitLayer,
    ConcurrentPolicy,
    LimitLayer,
    LimitService,
    OnLimit,
    Permit,
    Policy,
    RateLimitPolicy,
)
from pyrama_core.layer._map import (
    MapErrLayer,
    MapErrService,
    MapInputLayer,
    MapInputService,
    MapOutputLayer,
    MapOutputService,
)
from pyrama_core.layer._timeout import TimeoutLayer, TimeoutService
from pyrama_core.layer._trace_err import TraceErrLayer, TraceErrService

__all__ = [
    "NOOP_PERMIT",
    "AddExtensionLayer",
    "AddExtensionService",
    "ConcurrencyLimitLayer",
    "ConcurrentPolicy",
    "ConsumeErrLayer",
    "ConsumeErrService",
    "LimitLayer",
    "LimitService",
    "MapErrLayer",
    "MapErrService",
    "MapInputLayer",
    "MapInputService",
    "MapOutputLayer",
    "MapOutputService",
    "OnLimit",
    "Permit",
    "Policy",
    "RateLimitPolicy",
    "TimeoutLayer",
    "TimeoutService",
    "TraceErrLayer",
    "TraceErrService",
]
