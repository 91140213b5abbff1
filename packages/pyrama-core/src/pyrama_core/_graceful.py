"""Graceful shutdown: a trigger, guards held by in-flight work, and a bounded drain."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any, Final, TypeVar

from pyrama_core.errors import ConfigError

__all__ = [
    "DEFAULT_SHUTDOWN_DEADLINE",
    "Shutdown",
    "ShutdownEvent",
    "ShutdownGuard",
    "ShutdownResult",
    "WeakShutdownGuard",
    "current_task_of",
    "new_task",
]

T = TypeVar("T")

DEFAULT_SHUTDOWN_DEADLINE: Final[float] = 30.0
"""Seconds in-flight work gets to finish once shutdown starts, unless told otherwise."""

_DEFAULT_SIGNALS: Final[tuple[signal.Signals, ...]] = (signal.SIGINT, signal.SIGTERM)

_UNSET: Any = object()


def new_task(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], name: str
) -> asyncio.Task[T]:
    """``loop.create_task(coro, name=name)``, for code that makes a task per connection.

    Without a task factory on *loop* the task is made directly, named from the start:
    uvloop's ``create_task`` first gives every task a default name (``Task-N``, formatted
    per task) and then renames it. With a task factory, ``loop.create_task`` is called.
    """
    if loop.get_task_factory() is None:
        return asyncio.Task(coro, loop=loop, name=name)
    return loop.create_task(coro, name=name)


def _task_lookup() -> Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]:
    """How to find the running task of a loop, the cheapest way that gives the same answer.

    On CPython 3.11 ``asyncio.current_task`` is a Python function that looks the loop up in
    the C module's dict of current tasks: that dict's ``get`` is the same answer without the
    Python call. Where ``current_task`` is not that function (3.12 made it C), it is used.
    """
    tasks_by_loop = getattr(asyncio.tasks, "_current_tasks", None)
    fn = asyncio.current_task
    if isinstance(tasks_by_loop, dict) and getattr(fn, "__module__", None) == "asyncio.tasks":
        get: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = tasks_by_loop.get
        return get
    return fn


current_task_of: Final[Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]] = (
    _task_lookup()
)
"""``asyncio.current_task(loop)`` for a *loop* the caller has (per-request and per-connection
code): the running task of *loop*, or ``None``, without a Python call on CPython 3.11."""


def _check_seconds(name: str, value: float | None, *, allow_none: bool) -> None:
    if value is None:
        if not allow_none:
            raise ConfigError(f"{name} must be a number of seconds, not None")
        return
    if not value >= 0:  # also rejects NaN
        raise ConfigError(f"{name} must be >= 0 seconds, got {value!r}")


class ShutdownEvent:
    """A one-shot event that is set when shutdown begins.

    ``await event`` (or ``await event.wait()``) returns once shutdown has been triggered;
    :meth:`is_set` checks without waiting. It can be created outside a running event loop.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def is_set(self) -> bool:
        """Whether shutdown has been triggered."""
        return self._event.is_set()

    async def wait(self) -> None:
        """Wait until shutdown has been triggered."""
        await self._event.wait()

    def __await__(self) -> Generator[Any, None, None]:
        yield from self._event.wait().__await__()

    def _set(self) -> None:
        self._event.set()

    def __repr__(self) -> str:
        return f"ShutdownEvent(set={self.is_set()})"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShutdownResult:
    """How a graceful shutdown went.

    ``finished`` counts tracked tasks (spawned through a guard or a graceful
    :class:`~pyrama_core.Executor`) that ended on their own after shutdown began;
    ``elapsed`` is the time in seconds since the trigger;
    ``cancelled`` counts those cancelled because the deadline passed (or a second signal
    forced it); ``abandoned`` counts guards not tied to a task that were still held when
    :meth:`Shutdown.wait_complete` gave up (their owners could not be cancelled).
    """

    finished: int
    cancelled: int
    abandoned: int
    elapsed: float
    forced: bool = False

    @property
    def clean(self) -> bool:
        """Whether everything finished on its own before the deadline."""
        return self.cancelled == 0 and self.abandoned == 0


class Shutdown:
    """Owns the shutdown trigger and tracks every unit of in-flight work.

    Typical use::

        shutdown = Shutdown.with_signals()           # SIGINT / SIGTERM trigger it
        with shutdown.guard() as guard:
            guard.spawn_task_fn(accept_loop)         # accept_loop(guard) gets its own guard
        result = await shutdown.wait_complete()      # waits for a signal, then drains

        async def accept_loop(guard: ShutdownGuard) -> None:
            ...                                      # stop accepting once guard.cancelled()
            guard.spawn_task(handle(conn))           # each connection holds a clone

    Once triggered, listeners stop accepting (they watch :meth:`ShutdownGuard.cancelled`),
    in-flight work gets *deadline* seconds to finish, and whatever is left is cancelled.
    A second signal while draining skips the rest of the deadline.
    """

    __slots__ = (
        "_cancel_grace",
        "_deadline",
        "_event",
        "_finished",
        "_fired",
        "_force",
        "_force_cancelled",
        "_guards",
        "_idle",
        "_signal_loop",
        "_signals",
        "_tasks",
        "_triggered_at",
        "reason",
    )

    def __init__(
        self,
        *,
        deadline: float | None = DEFAULT_SHUTDOWN_DEADLINE,
        cancel_grace: float = 5.0,
    ) -> None:
        """Create an untriggered shutdown.

        *deadline* is the default number of seconds :meth:`wait_complete` lets in-flight
        work run after the trigger (``None`` waits forever and must be asked for
        explicitly). *cancel_grace* bounds how long cancelled tasks get to unwind.
        """
        _check_seconds("deadline", deadline, allow_none=True)
        _check_seconds("cancel_grace", cancel_grace, allow_none=False)
        self._deadline = deadline
        self._cancel_grace = cancel_grace
        self._event = ShutdownEvent()
        self._fired = False  # the event's state, read without a call where it is hot
        self._force = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._guards = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._force_cancelled: set[asyncio.Task[Any]] = set()
        self._finished = 0
        self._signal_loop: asyncio.AbstractEventLoop | None = None
        # (signal, previous handler, installed via loop.add_signal_handler?)
        self._signals: list[tuple[signal.Signals, Any, bool]] = []
        self._triggered_at = 0.0
        self.reason: str | None = None
        """Why shutdown was triggered (``"signal SIGTERM"``, a caller's text), or ``None``."""

    # -- construction helpers -------------------------------------------------------------

    @classmethod
    def with_signals(
        cls,
        signals: Iterable[signal.Signals] = _DEFAULT_SIGNALS,
        *,
        deadline: float | None = DEFAULT_SHUTDOWN_DEADLINE,
        cancel_grace: float = 5.0,
    ) -> Shutdown:
        """Create a shutdown triggered by *signals* (SIGINT and SIGTERM by default).

        Must be called from inside the running event loop, in the main thread.
        """
        shutdown = cls(deadline=deadline, cancel_grace=cancel_grace)
        shutdown.install_signal_handlers(*signals)
        return shutdown

    # -- signals ----------------------------------------------------------------------------

    def install_signal_handlers(self, *signals: signal.Signals) -> None:
        """Trigger shutdown on *signals* (default SIGINT, SIGTERM); a repeat forces it.

        The handlers are removed again by :meth:`remove_signal_handlers`, which
        :meth:`wait_complete` calls when it returns.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as exc:
            raise ConfigError("install signal handlers from inside a running event loop") from exc
        if self._signal_loop is not None and self._signal_loop is not loop:
            raise ConfigError("signal handlers are already installed on another event loop")
        self._signal_loop = loop
        for sig in signals or _DEFAULT_SIGNALS:
            sig = signal.Signals(sig)
            if any(s == sig for s, _, _ in self._signals):
                continue
            previous = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                via_loop = True
            except NotImplementedError:  # pragma: no cover - loops without signal support
                signal.signal(sig, self._threadsafe_handler(loop))
                via_loop = False
            except (RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"cannot install a {sig.name} handler (not in the main thread?)"
                ) from exc
            self._signals.append((sig, previous, via_loop))

    def _threadsafe_handler(
        self, loop: asyncio.AbstractEventLoop
    ) -> Callable[[int, FrameType | None], None]:  # pragma: no cover - see above
        def handler(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self._on_signal, signal.Signals(signum))

        return handler

    def remove_signal_handlers(self) -> None:
        """Remove the handlers :meth:`install_signal_handlers` put in place (idempotent)."""
        loop = self._signal_loop
        for sig, previous, via_loop in reversed(self._signals):
            if via_loop and loop is not None and not loop.is_closed():
                loop.remove_signal_handler(sig)
            if previous is not None:
                with contextlib.suppress(ValueError, TypeError, OSError):
                    signal.signal(sig, previous)
        self._signals.clear()
        self._signal_loop = None

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._event.is_set():
            self._force.set()
        else:
            self.trigger(f"signal {sig.name}")

    # -- trigger and guards -------------------------------------------------------------------

    @property
    def triggered(self) -> ShutdownEvent:
        """The event set when shutdown begins (``await shutdown.triggered``)."""
        return self._event

    def is_triggered(self) -> bool:
        """Whether shutdown has begun."""
        return self._fired

    def trigger(self, reason: str | None = None) -> None:
        """Begin shutdown: every guard's :meth:`~ShutdownGuard.cancelled` fires (idempotent)."""
        if not self._event.is_set():
            self.reason = reason
            self._triggered_at = time.monotonic()
            self._fired = True
            self._event._set()

    def force(self) -> None:
        """Begin shutdown and skip the drain: cancel in-flight work right away."""
        self.trigger("forced")
        self._force.set()

    def guard(self) -> ShutdownGuard:
        """A new guard; shutdown waits for it to be released (up to the deadline)."""
        return ShutdownGuard._new(self)

    @property
    def in_flight(self) -> int:
        """The number of guards currently held."""
        return self._guards

    def _acquire(self) -> None:
        if not self._guards:
            self._idle.clear()
        self._guards += 1

    def _release(self) -> None:
        self._guards -= 1
        if self._guards == 0:
            self._idle.set()

    def _track(self, task: asyncio.Task[Any], guard: ShutdownGuard) -> None:
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._task_ended(t)
            guard.release()

        task.add_done_callback(done)

    def _track_held(self, task: asyncio.Task[Any]) -> None:
        """Track *task* as holding a guard of its own until it is done (see :meth:`_acquire`).

        The hold is a count, not a :class:`ShutdownGuard` object: no guard, closure or
        finalizer is made per task (a server spawns one per connection).
        """
        self._acquire()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._task_ended(task)
        self._release()

    def _task_ended(self, task: asyncio.Task[Any]) -> None:
        """A tracked task is done: forget it, and count it if it finished during shutdown."""
        self._tasks.discard(task)
        if self._fired and task not in self._force_cancelled:
            self._finished += 1

    # -- draining -------------------------------------------------------------------------------

    async def shutdown(self, deadline: float | None = _UNSET) -> ShutdownResult:
        """Trigger shutdown and wait for it to complete (see :meth:`wait_complete`)."""
        self.trigger(self.reason or "shutdown requested")
        return await self.wait_complete(deadline)

    async def wait_complete(self, deadline: float | None = _UNSET) -> ShutdownResult:
        """Wait for the trigger, then for in-flight work, at most *deadline* seconds.

        *deadline* is counted from the trigger and defaults to the one given to the
        constructor (30 s unless changed); ``None`` waits without bound. When it passes (or
        a second signal forces it), tracked tasks still running are cancelled and get
        ``cancel_grace`` seconds to unwind. Signal handlers installed by this shutdown are
        removed before returning. The result counts everything since the trigger.
        """
        if deadline is _UNSET:
            deadline = self._deadline
        _check_seconds("deadline", deadline, allow_none=True)
        try:
            await self._event.wait()
            remaining = None
            if deadline is not None:
                remaining = max(0.0, deadline - (time.monotonic() - self._triggered_at))
            forced = await self._drain(remaining)
            cancelled = 0
            if self._guards > 0:
                cancelled = await self._cancel_remaining()
            live_tasks = sum(1 for t in self._tasks if not t.done())
            return ShutdownResult(
                finished=self._finished,
                cancelled=cancelled,
                abandoned=max(0, self._guards - live_tasks),
                elapsed=time.monotonic() - self._triggered_at,
                forced=forced,
            )
        finally:
            self.remove_signal_handlers()

    async def _drain(self, deadline: float | None) -> bool:
        """Wait for all guards to go, the deadline, or a force; return whether forced."""
        if self._idle.is_set() or self._force.is_set():
            return self._force.is_set() and not self._idle.is_set()
        idle = asyncio.ensure_future(self._idle.wait())
        force = asyncio.ensure_future(self._force.wait())
        try:
            await asyncio.wait((idle, force), timeout=deadline, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
            force.cancel()
        return self._force.is_set() and not self._idle.is_set()

    async def _cancel_remaining(self) -> int:
        victims = [t for t in self._tasks if not t.done()]
        for task in victims:
            self._force_cancelled.add(task)
            task.cancel("graceful shutdown deadline passed")
        if victims:
            await asyncio.wait(victims, timeout=self._cancel_grace)
        return len(victims)

    def __repr__(self) -> str:
        return (
            f"Shutdown(triggered={self._event.is_set()}, guards={self._guards}, "
            f"tasks={len(self._tasks)})"
        )


class ShutdownGuard:
    """A hold on a :class:`Shutdown`: while any guard is held, shutdown waits.

    Every in-flight unit of work (a listener, a connection, a spawned task) holds one.
    Release it with :meth:`release` or by using it as a (sync or async) context manager;
    :meth:`clone` gives another hold for nested work, and :meth:`spawn_task` runs a
    coroutine as a task holding its own clone until the task is done.
    """

    __slots__ = ("__weakref__", "_released", "_shutdown")

    _shutdown: Shutdown
    _released: bool

    def __init__(self) -> None:
        raise TypeError("get a ShutdownGuard from Shutdown.guard() or ShutdownGuard.clone()")

    @classmethod
    def _new(cls, shutdown: Shutdown) -> ShutdownGuard:
        guard = object.__new__(cls)
        guard._shutdown = shutdown
        guard._released = False
        shutdown._acquire()
        return guard

    @property
    def shutdown(self) -> Shutdown:
        """The shutdown this guard holds open."""
        return self._shutdown

    @property
    def released(self) -> bool:
        """Whether :meth:`release` was called."""
        return self._released

    def is_cancelled(self) -> bool:
        """Whether shutdown has begun (new work should not be started)."""
        return self._shutdown._fired

    async def cancelled(self) -> None:
        """Wait until shutdown begins."""
        await self._shutdown._event.wait()

    def clone(self) -> ShutdownGuard:
        """Another guard on the same shutdown (for nested work).

        Cloning a released guard is allowed: the clone is a fresh hold of its own.
        """
        return ShutdownGuard._new(self._shutdown)

    def downgrade(self) -> WeakShutdownGuard:
        """A weak guard: it sees the trigger but does not hold shutdown open."""
        return WeakShutdownGuard(self._shutdown)

    def spawn_task(
        self, coro: Coroutine[Any, Any, T], *, name: str | None = None
    ) -> asyncio.Task[T]:
        """Run *coro* as a task that holds a clone of this guard until it is done.

        If the shutdown deadline passes while the task still runs, it is cancelled. This
        guard may be released right after: the task's hold is its own.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            raise
        task = loop.create_task(coro) if name is None else new_task(loop, coro, name)
        self._shutdown._track_held(task)
        return task

    def track_task(self, task: asyncio.Task[Any]) -> None:
        """Tie *task* (already created) to the shutdown, as :meth:`spawn_task` does.

        The task holds a guard of its own until it is done, and is cancelled if the
        shutdown deadline passes while it runs. For callers that create their tasks
        themselves (with the event loop they already hold).
        """
        self._shutdown._track_held(task)

    def spawn_task_fn(
        self,
        fn: Callable[[ShutdownGuard], Coroutine[Any, Any, T]],
        *,
        name: str | None = None,
    ) -> asyncio.Task[T]:
        """Run ``fn(guard)`` as a task, where *guard* is the task's own hold.

        The task can clone that guard for nested work and watch its
        :meth:`cancelled`; it is released when the task is done.
        """
        child = self.clone()
        try:
            loop = asyncio.get_running_loop()
            task = loop.create_task(fn(child), name=name)
        except BaseException:
            child.release()
            raise
        self._shutdown._track(task, child)
        return task

    def release(self) -> None:
        """Let go of this guard (idempotent)."""
        if not self._released:
            self._released = True
            self._shutdown._release()

    def __enter__(self) -> ShutdownGuard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    async def __aenter__(self) -> ShutdownGuard:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __del__(self) -> None:
        # A guard dropped without release() must not keep shutdown waiting to its deadline.
        if not getattr(self, "_released", True):
            self._released = True
            self._shutdown._release()

    def __repr__(self) -> str:
        return f"ShutdownGuard(released={self._released}, cancelled={self.is_cancelled()})"


class WeakShutdownGuard:
    """Sees the shutdown trigger without holding shutdown open.

    Useful for long-lived helpers that should notice shutdown but never delay it.
    """

    __slots__ = ("_shutdown",)

    def __init__(self, shutdown: Shutdown) -> None:
        self._shutdown = shutdown

    def is_cancelled(self) -> bool:
        """Whether shutdown has begun."""
        return self._shutdown._fired

    async def cancelled(self) -> None:
        """Wait until shutdown begins."""
        await self._shutdown._event.wait()

    def upgrade(self) -> ShutdownGuard:
        """A strong guard on the same shutdown."""
        return ShutdownGuard._new(self._shutdown)

    def __repr__(self) -> str:
        return f"WeakShutdownGuard(cancelled={self.is_cancelled()})"
