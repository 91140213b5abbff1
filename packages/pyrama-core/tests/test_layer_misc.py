from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from pyrama_core import Extensions, HasExtensions, layers, service_fn
from pyrama_core.errors import ConfigError
from pyrama_core.layer import (
    AddExtensionLayer,
    ConsumeErrLayer,
    TraceErrLayer,
)


@dataclass
class Req:
    body: str = ""
    extensions: Extensions = field(default_factory=Extensions)


class RecordingLogger:
    def __init__(self) -> None:
        self.entries: list[tuple[int, str, dict[str, Any]]] = []

    def log(self, level: int, event: str, **kw: Any) -> None:
        self.entries.append((level, event, kw))


async def ident(x: int) -> int:
    await asyncio.sleep(0)
    return x


async def ident_req(r: Req) -> Req:
    return r


async def fail(_: object) -> str:
    raise ValueError("broken")


async def test_trace_err_logs_then_reraises() -> None:
    logger = RecordingLogger()
    svc = TraceErrLayer("warning", logger=logger, event="oops").layer(service_fn(fail))
    with pytest.raises(ValueError, match="broken") as info:
        await svc.serve(None)
    [(level, event, kw)] = logger.entries
    assert level == logging.WARNING
    assert event == "oops"
    assert kw["error"] == "broken"
    assert kw["error_type"] == "ValueError"
    assert kw["exc_info"] is info.value


async def test_trace_err_is_silent_on_success_and_cancellation() -> None:
    logger = RecordingLogger()
    ok = TraceErrLayer(logger=logger).layer(service_fn(ident))
    assert await ok.serve(3) == 3

    async def cancelled(_: object) -> str:
        raise asyncio.CancelledError

    svc = TraceErrLayer(logging.ERROR, logger=logger).layer(service_fn(cancelled))
    with pytest.raises(asyncio.CancelledError):
        await svc.serve(None)
    assert logger.entries == []


async def test_trace_err_default_logger_goes_through_structlog() -> None:
    import structlog

    svc = TraceErrLayer().layer(service_fn(fail))
    with structlog.testing.capture_logs() as logs, pytest.raises(ValueError, match="broken"):
        await svc.serve(None)
    assert logs[0]["log_level"] == "error"
    assert logs[0]["event"] == "service error"
    assert logs[0]["error_type"] == "ValueError"


def test_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        TraceErrLayer("loud")
    with pytest.raises(ConfigError):
        ConsumeErrLayer(level="loud")


async def test_add_extension_inserts_per_call_and_newest_wins() -> None:
    class Config:
        pass

    class Special(Config):
        pass

    cfg, special = Config(), Special()

    async def look(req: Req) -> tuple[object, object]:
        return req.extensions.get(Config), req.extensions.get(int)

    svc = layers(AddExtensionLayer(cfg), AddExtensionLayer(special, key=Config)).into(
        service_fn(look)
    )
    req = Req()
    assert isinstance(req, HasExtensions)
    # inner layers run later, so their insert is the newest
    assert await svc.serve(req) == (special, None)
    with pytest.raises(TypeError):
        AddExtensionLayer(1, key=str)


async def test_add_extension_into_forked_extensions_does_not_touch_parent() -> None:
    parent = Extensions()
    req = Req(extensions=parent.fork())
    svc = AddExtensionLayer(5).layer(service_fn(ident_req))
    await svc.serve(req)
    assert req.extensions.get(int) == 5
    assert parent.get(int) is None


async def test_consume_err_returns_default_and_logs() -> None:
    logger = RecordingLogger()
    svc = ConsumeErrLayer("fallback", logger=logger).layer(service_fn(fail))
    assert await svc.serve(None) == "fallback"
    [(level, _, kw)] = logger.entries
    assert level == logging.DEBUG
    assert kw["error_type"] == "ValueError"


async def test_consume_err_none_default_and_silence() -> None:
    logger = RecordingLogger()
    svc = ConsumeErrLayer(level=None, logger=logger).layer(service_fn(fail))
    assert await svc.serve(None) is None
    assert logger.entries == []


async def test_consume_err_handlers_sync_and_async() -> None:
    sync_svc = ConsumeErrLayer(handler=lambda e: f"handled {e}", level=None).layer(service_fn(fail))
    assert await sync_svc.serve(None) == "handled broken"

    async def ahandler(e: Exception) -> str:
        await asyncio.sleep(0)
        return type(e).__name__

    async_svc = ConsumeErrLayer(handler=ahandler, level=None).layer(service_fn(fail))
    assert await async_svc.serve(None) == "ValueError"
    with pytest.raises(TypeError):
        ConsumeErrLayer("x", handler=ahandler)  # type: ignore[call-overload]


async def test_consume_err_passes_success_and_cancellation() -> None:
    ok = ConsumeErrLayer(level=None).layer(service_fn(ident))
    assert await ok.serve(9) == 9

    async def cancelled(_: object) -> str:
        raise asyncio.CancelledError

    svc = ConsumeErrLayer(level=None).layer(service_fn(cancelled))
    with pytest.raises(asyncio.CancelledError):
        await svc.serve(None)


async def test_consume_err_keeps_a_listener_loop_alive() -> None:
    handled: list[object] = []

    async def conn(n: int) -> str:
        if n % 2:
            raise ConnectionResetError(n)
        return "ok"

    svc = ConsumeErrLayer("dropped", level=None).layer(service_fn(conn))
    for n in range(4):
        handled.append(await svc.serve(n))
    assert handled == ["ok", "dropped", "ok", "dropped"]
