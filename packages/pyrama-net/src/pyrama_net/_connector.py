"""The connector protocol: a Service that turns a target into an established connection.

As in rama, a connector is nothing special: it is a :class:`~pyrama_core.Service` whose input
is what to connect to (an authority, a request, a proxy target, ...) and whose output is an
:class:`EstablishedConnection` holding the connection *and* the input it was made for, so
layers above (TLS, HTTP, a pool) still see the target. Connectors stack like any service:
``TlsConnectorLayer().layer(TcpConnector())`` is a connector too.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import weakref
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Final, Generic, Protocol, TypeAlias, TypeVar

from pyrama_core import Extensions, Service, TimerWheel, current_task_of, timer_wheel
from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net.errors import ConnectError

__all__ = [
    "ConnectAttempt",
    "ConnectAttemptsError",
    "ConnectTarget",
    "ConnectTimeoutError",
    "Connector",
    "EstablishedConnection",
    "HostPortTarget",
    "TaskDeadline",
    "target_host_port",
]

TargetT = TypeVar("TargetT")
ConnT = TypeVar("ConnT")


@dataclass(slots=True)
class EstablishedConnection(Generic[TargetT, ConnT]):
    """What a connector returns: the connection, the target it was made for, and facts about it.

    :attr:`conn` is the connection (a :class:`~pyrama_net.Stream` for transport connectors, an
    HTTP connection for higher ones); :attr:`target` is the connector's input, passed through
    so the layers above still know what was asked for; :attr:`extensions` carries facts about
    the connection (for stream connectors it is the stream's own extensions).
    """

    conn: ConnT
    target: TargetT
    extensions: Extensions = field(default_factory=Extensions)


Connector: TypeAlias = Service[TargetT, EstablishedConnection[TargetT, ConnT]]
"""``Connector[Target, Conn]``: a service from a target to an :class:`EstablishedConnection`."""


class HostPortTarget(Protocol):
    """Anything with a ``host`` and a ``port``.

    :class:`~pyrama_net.Authority`, :class:`~pyrama_net.SocketAddress`, or your own type.
    ``str(host)`` must give the bare host: a domain, an IPv4 address, or an IPv6 address
    with or without brackets.
    """

    @property
    def host(self) -> object:
        """The host (a domain, an IP address, or a ``Host``)."""
        ...

    @property
    def port(self) -> int:
        """The port."""
        ...


ConnectTarget: TypeAlias = HostPortTarget | tuple[str, int]
"""What transport connectors accept: an object with ``.host``/``.port``, or ``(host, port)``."""


def target_host_port(target: ConnectTarget) -> tuple[str, int]:
    """Split a :data:`ConnectTarget` into ``(host, port)`` with IPv6 brackets removed.

    Raises :class:`~pyrama_net.errors.ConnectError` (a ``ValueError`` would be a caller bug,
    but a connector's callers expect connect errors) when the target has no usable host or
    port.
    """
    host_obj: object
    port: object
    if isinstance(target, tuple):
        if len(target) != 2:
            raise ConnectError(f"a connect target tuple is (host, port), got {target!r}")
        host_obj, port = target
    else:
        host_obj, port = target.host, target.port
    host = host_obj if isinstance(host_obj, str) else str(host_obj)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ConnectError(f"connect target {target!r} has an empty host")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConnectError(f"connect target {target!r} has no valid port (1..65535)")
    return host, port


@dataclass(frozen=True, slots=True)
class ConnectAttempt:
    """One failed attempt to connect to one address, kept for error reports."""

    ip: IPv4Address | IPv6Address
    """The address tried."""
    port: int
    """The port tried."""
    error: Exception
    """Why it failed."""

    def __str__(self) -> str:
        addr = f"[{self.ip}]" if isinstance(self.ip, IPv6Address) else str(self.ip)
        return f"{addr}:{self.port}: {type(self.error).__name__}: {self.error}"


class ConnectAttemptsError(ConnectError):
    """Every address of a host was tried and none connected.

    :attr:`attempts` lists each attempt with its error, in the order they were started; the
    errors are also chained as an ``ExceptionGroup`` in ``__cause__``.
    """

    def __init__(
        self, host: str, port: int, attempts: tuple[ConnectAttempt, ...], *, note: str = ""
    ) -> None:
        detail = "; ".join(str(a) for a in attempts) or "no address was tried"
        extra = f" ({note})" if note else ""
        super().__init__(f"could not connect to {host}:{port}{extra}: {detail}")
        self.host = host
        self.port = port
        self.attempts = attempts


class ConnectTimeoutError(ConnectError, PyramaTimeoutError):
    """Connecting did not finish within its deadline.

    It is both a :class:`~pyrama_net.errors.ConnectError` and a
    :class:`~pyrama_core.errors.PyramaTimeoutError` (so a builtin ``TimeoutError``).
    :attr:`attempts` lists the attempts that had already failed when time ran out.
    """

    def __init__(
        self,
        host: str,
        port: int,
        seconds: float | None,
        attempts: tuple[ConnectAttempt, ...] = (),
    ) -> None:
        after = f" after {seconds:g}s" if seconds is not None else ""
        detail = "".join(f"; {a}" for a in attempts)
        PyramaTimeoutError.__init__(
            self, f"connecting to {host}:{port} timed out{after}{detail}", seconds=seconds
        )
        self.host = host
        self.port = port
        self.attempts = attempts


async def close_duck(conn: object) -> None:
    """Close *conn* through its ``close()`` method (awaited when it returns an awaitable).

    The default way connectors and the pool dispose of connections they do not hand out.
    """
    fn = getattr(conn, "close", None)
    if callable(fn):
        result = fn()
        if inspect.isawaitable(result):
            await result


_DEADLINE_TICKS: Final = 64
"""A :class:`TaskDeadline` is rounded up to a tick of its seconds / this (at most ~1.6 % late)..."""
_DEADLINE_MAX_TICK: Final = 0.25
"""...and to at most this many seconds."""


_TICKS: dict[float, float] = {}
"""The tick of each deadline length seen (bounded by :data:`_TICKS_MAX`)."""
_TICKS_MAX: Final = 64

_last_wheel: tuple[weakref.ref[asyncio.AbstractEventLoop], TimerWheel] | None = None
"""The loop a :class:`TaskDeadline` was last made on (weakly: a loop is not kept alive for
this) and its timer wheel, so that deadlines on one loop skip the weak-keyed look-up."""


class TaskDeadline:
    """Cancels the current task once *seconds* have passed: ``asyncio.timeout`` for hot paths.

    Made for deadlines that are set on every connection and almost never fire (a connect
    timeout, a handshake timeout): instead of a loop timer per deadline it joins the loop's
    :class:`~pyrama_core.TimerWheel`, rounded up to a tick of *seconds* / 64 (at most 0.25 s
    late, never early), and it has no context-manager objects to build. Use it as::

        deadline = TaskDeadline(5.0)
        try:
            return await work()
        except asyncio.CancelledError as exc:
            if deadline.finish():
                raise TimeoutError("work took too long") from exc
            raise
        finally:
            deadline.finish()

    :meth:`finish` stops the deadline (idempotent) and tells whether it fired and the
    task's cancellation was its own (then taken back with ``Task.uncancel``, as
    ``asyncio.timeout`` does): a cancellation from outside is never mistaken for a timeout.
    Must be created inside a task.
    """

    __slots__ = ("_cancelling", "_done", "_task", "_timed_out", "_wheel", "_wheel_key", "expired")

    def __init__(self, seconds: float, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start a deadline of *seconds* (> 0; ``math.inf`` never fires) for the running task.

        *loop* is the running loop when the caller has it at hand (a stream's
        :attr:`~pyrama_net.SocketStream.loop`): looking it up is a ``getpid`` system call on
        CPython 3.11.
        """
        if not seconds > 0:
            raise ConfigError(f"a deadline must be a number of seconds > 0, got {seconds!r}")
        if loop is None:
            loop = asyncio.get_running_loop()
        task = current_task_of(loop)
        if task is None:
            raise RuntimeError("a TaskDeadline needs a running asyncio task")
        self._task = task
        self._cancelling = task.cancelling()
        self._wheel_key: tuple[float, int] | None = None
        self._done = False
        self._timed_out = False
        self.expired = False
        """Whether the deadline passed (and cancelled the task)."""
        global _last_wheel
        last = _last_wheel
        if last is not None and last[0]() is loop:
            wheel = last[1]
        else:  # another loop than last time: its wheel (a weak-keyed look-up)
            wheel = timer_wheel(loop)
            _last_wheel = (weakref.ref(loop), wheel)
        self._wheel = wheel
        if seconds != math.inf:  # an infinite deadline never fires: nothing to schedule
            tick = _TICKS.get(seconds)
            if tick is None:  # a new length of deadline (a program uses a few)
                tick = min(seconds / _DEADLINE_TICKS, _DEADLINE_MAX_TICK)
                if len(_TICKS) < _TICKS_MAX:
                    _TICKS[seconds] = tick
            wheel.schedule(self, loop.time() + seconds, tick)

    def _on_timer(self) -> None:
        if not self._done:
            self.expired = True
            self._task.cancel()

    def finish(self) -> bool:
        """Stop the deadline; whether it fired and the task's cancellation was only its own.

        Idempotent: later calls return the first answer.
        """
        if self._done:
            return self._timed_out
        self._done = True
        self._wheel.cancel(self)
        if self.expired:
            self._timed_out = self._task.uncancel() <= self._cancelling
        return self._timed_out
