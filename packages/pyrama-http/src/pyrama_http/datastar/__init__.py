"""Datastar (https://data-star.dev) support: events, the signals extractor, the client script.

A Datastar endpoint answers with an :class:`~pyrama_http.sse.Sse` stream of
:class:`PatchElements`, :class:`PatchSignals` and :class:`ExecuteScript` events (each also
has ``into_response()`` for a one-event answer). :class:`ReadSignals` reads the signals a
request carries (``ReadSignals.from_request``: an extractor for the web router), and
:class:`DatastarScript` serves the browser script. The event types are defined in
:mod:`pyrama_http_types` and re-exported here.
"""

from pyrama_http.datastar._datastar import (
    DATASTAR_CDN_URL,
    DATASTAR_SCRIPT_PATH,
    DEFAULT_SIGNALS_LIMIT,
    DatastarScript,
    ReadSignals,
)
from pyrama_http_types import (
    DatastarEvent,
    ElementPatchMode,
    ExecuteScript,
    PatchElements,
    PatchSignals,
    parse_datastar_event,
)

__all__ = [
    "DATASTAR_CDN_URL",
    "DATASTAR_SCRIPT_PATH",
    "DEFAULT_SIGNALS_LIMIT",
    "DatastarEvent",
    "DatastarScript",
    "ElementPatchMode",
    "ExecuteScript",
    "PatchElements",
    "PatchSignals",
    "ReadSignals",
    "parse_datastar_event",
]
