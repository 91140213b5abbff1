"""AsgiLifespan: run an ASGI application's lifespan startup and shutdown."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from pyrama_core.telemetry import get_logger
from pyrama_http.asgi._errors import AsgiLifespanError, AsgiProtocolError
from pyrama_http.asgi._types import AsgiApp, Message

__all__ = ["AsgiLifespan"]

_log = get_logger(__name__)


class AsgiLifespan:
    """The ASGI ``lifespan`` protocol for one application: startup, then shutdown.

    ``async with AsgiLifespan(app):`` sends ``lifespan.startup`` and waits for
    ``lifespan.startup.complete``; ``lifespan.startup.failed`` raises
    :class:`~pyrama_http.asgi.AsgiLifespanError` with the app's message (so a server never
    starts with a broken app). Leaving the block sends ``lifespan.shutdown`` and waits for
    the app to confirm (a ``lifespan.shutdown.failed`` raises too).

    An app that does not speak lifespan (it raises or returns at once) is tolerated unless
    *required* is true: :attr:`supported` is then false. :attr:`state` is the scope's
    ``state`` dict: what the app stores there during startup (Starlette's lifespan state)
    reaches every request served by an :class:`~pyrama_http.asgi.AsgiService` sharing it
    (use :meth:`AsgiService.lifespan <pyrama_http.asgi.AsgiService.lifespan>`).
    """

    __slots__ = (
        "_app",
        "_inbox",
        "_outcome",
        "_phase",
        "_required",
        "_task",
        "state",
        "supported",
    )

    def __init__(
        self, app: AsgiApp, *, state: dict[str, Any] | None = None, required: bool = False
    ) -> None:
        """Prepare the lifespan of *app* (nothing runs until :meth:`startup`)."""
        self._app = app
        self._required = required
        self.state: dict[str, Any] = {} if state is None else state
        """The lifespan ``state`` shared with requests."""
        self.supported = True
        """Whether the app answered the lifespan protocol."""
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outcome: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._phase = "idle"

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        kind = message.get("type", "")
        expected = {
            "startup": ("lifespan.startup.complete", "lifespan.startup.failed"),
            "shutdown": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
        }.get(self._phase, ())
        if kind not in expected:
            raise AsgiProtocolError(f"unexpected lifespan message {kind!r} during {self._phase}")
        outcome = self._outcome
        if outcome is not None and not outcome.done():
            outcome.set_result(message)

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self._app(scope, self._receive, self._send)
        except Exception as exc:
            outcome = self._outcome
            if outcome is not None and not outcome.done():
                outcome.set_exception(exc)
            return
        outcome = self._outcome
        if outcome is not None and not outcome.done():
            outcome.set_result({"type": "lifespan.returned"})

    async def _step(self, phase: str) -> Message:
        self._phase = phase
        outcome = self._outcome = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait({"type": f"lifespan.{phase}"})
        task = self._task
        assert task is not None
        await asyncio.wait((outcome, task), return_when=asyncio.FIRST_COMPLETED)
        if not outcome.done():
            outcome.set_result({"type": "lifespan.returned"})
        result: Message = outcome.result()
        return result

    async def startup(self) -> None:
        """Run the app's startup; :class:`AsgiLifespanError` if it fails."""
        if self._task is not None:
            raise AsgiProtocolError("the lifespan has already started")
        self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            message = await self._step("startup")
        except Exception as exc:
            if self._required:
                raise AsgiLifespanError(
                    f"the app does not support lifespan: {exc!r}", phase="startup"
                ) from exc
            _log.info("asgi app does not support lifespan; going on", error=repr(exc))
            self.supported = False
            return
        kind = message["type"]
        if kind == "lifespan.startup.failed":
            await self._stop_task()
            raise AsgiLifespanError(
                f"asgi startup failed: {message.get('message', '')}", phase="startup"
            )
        if kind == "lifespan.returned":
            if self._required:
                raise AsgiLifespanError("the app returned during startup", phase="startup")
            self.supported = False

    async def shutdown(self) -> None:
        """Run the app's shutdown; :class:`AsgiLifespanError` if it reports a failure."""
        task = self._task
        if task is None or not self.supported or task.done():
            return
        try:
            message = await self._step("shutdown")
        except Exception as exc:
            raise AsgiLifespanError(f"asgi shutdown failed: {exc!r}", phase="shutdown") from exc
        finally:
            await self._stop_task()
        if message["type"] == "lifespan.shutdown.failed":
            raise AsgiLifespanError(
                f"asgi shutdown failed: {message.get('message', '')}", phase="shutdown"
            )

    async def _stop_task(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> AsgiLifespan:
        await self.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        return f"AsgiLifespan({self._app!r}, phase={self._phase})"
