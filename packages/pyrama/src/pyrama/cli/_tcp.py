"""The TCP side of ``pyrama serve``: bind a listener and serve a stream service on it."""

from __future__ import annotations

from typing import Any

from pyrama.cli._serve import ServeSettings, Started
from pyrama.cli._streams import ConnectionLayer
from pyrama.net import Stream
from pyrama_core import Layer, Service, ShutdownGuard, layers
from pyrama_core.layer import ConcurrencyLimitLayer
from pyrama_tcp import TcpListener

__all__ = ["start_tcp"]


async def start_tcp(
    s: ServeSettings, guard: ShutdownGuard, service: Service[Stream, Any]
) -> Started:
    """Bind ``s.bind`` and serve every connection with *service*.

    The stack, outermost first: connection logging and clean refusals, the ``--concurrent``
    limit (refusing, not queueing: a queued connection would leave its client hanging), then
    the service. ``--timeout`` is the listener's whole-connection deadline. The serving task
    is tied to *guard*: on shutdown the listener stops accepting and drains.
    """
    listener = await TcpListener.bind(s.bind)
    stack: list[Layer[Any, Any]] = [ConnectionLayer(s.command)]
    if s.concurrent is not None:
        stack.append(ConcurrencyLimitLayer(s.concurrent, "reject"))
    svc: Service[Any, Any] = layers(*stack).into(service)
    task = guard.spawn_task(
        listener.serve(svc, guard=guard.clone(), connection_timeout=s.timeout),
        name=f"pyrama serve {s.command} (tcp)",
    )

    def in_flight() -> int:
        return listener.connections

    return Started(address=str(listener.local_addr), task=task, in_flight=in_flight)
