"""Running a ``pyrama serve`` command: logging, the event loop, signals, graceful shutdown."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Callable

from pyrama.cli._serve import ServeCommand, ServeSettings, Started
from pyrama_core import PyramaError, Shutdown
from pyrama_core.telemetry import get_logger, setup_logging

__all__ = ["event_loop_factory", "run_server"]

_log = get_logger("pyrama.cli")


def event_loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """Uvloop's loop factory when uvloop is installed, else asyncio's default; and its name."""
    try:
        import uvloop
    except ImportError:
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def run_server(command: ServeCommand, settings: ServeSettings, args: argparse.Namespace) -> int:
    """Run *command* until Ctrl-C/SIGTERM, then shut down gracefully; return the exit code.

    0 after a shutdown by signal (whether or not connections had to be cancelled at the
    deadline), 1 when the server cannot start (port in use, bad address) or fails.
    """
    level = logging.DEBUG if args.verbose > 0 else logging.INFO
    setup_logging(args.log_format, level)
    factory, loop_name = event_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_serve(command, settings, loop_name))


async def _serve(command: ServeCommand, s: ServeSettings, loop_name: str) -> int:
    shutdown = Shutdown(deadline=s.graceful)
    shutdown.install_signal_handlers()
    try:
        guard = shutdown.guard()
        try:
            started = await command.modes[s.mode].start(s, guard)
        except (PyramaError, OSError) as exc:
            _log.error(
                "cannot listen",
                service=s.command,
                mode=s.mode,
                address=str(s.bind),
                error=str(exc),
            )
            shutdown.trigger("failed to start")
            await shutdown.wait_complete(0)
            return 1
        finally:
            guard.release()
        _log.info(
            "listening",
            service=s.command,
            mode=s.mode,
            address=started.address,
            loop=loop_name,
            concurrent=s.concurrent or "unlimited",
            timeout=s.timeout or "none",
            graceful=s.graceful,
            **started.details,
        )
        failed = await _until_stopped(shutdown, started)
        _log.info(
            "shutting down",
            reason=shutdown.reason,
            in_flight=None if started.in_flight is None else started.in_flight(),
            deadline=s.graceful,
        )
        result = await shutdown.wait_complete()
        _log.info(
            "stopped",
            finished=result.finished,
            cancelled=result.cancelled,
            forced=result.forced,
            elapsed=round(result.elapsed, 3),
        )
        if started.task is not None and started.task.done() and not started.task.cancelled():
            failed = failed or started.task.exception() is not None
        return 1 if failed else 0
    finally:
        shutdown.remove_signal_handlers()


async def _until_stopped(shutdown: Shutdown, started: Started) -> bool:
    """Wait for the shutdown trigger, or for the server task to end; whether it failed."""
    task = started.task
    if task is None:
        await shutdown.triggered
        return False
    trigger = asyncio.ensure_future(shutdown.triggered.wait())
    try:
        await asyncio.wait((trigger, task), return_when=asyncio.FIRST_COMPLETED)
    finally:
        trigger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trigger
    if shutdown.is_triggered():
        return False
    exc = None if task.cancelled() else task.exception()
    _log.error("server failed", error=f"{type(exc).__name__}: {exc}" if exc else "stopped")
    shutdown.trigger("server failed")
    return True
