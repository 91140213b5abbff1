from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import (
    TelemetryProviders,
    debug_enabled,
    get_logger,
    meter,
    setup_logging,
    setup_opentelemetry,
    tracer,
)
from pyrama_core.telemetry._logging import _teardown_logging


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    _teardown_logging()
    root.setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def test_json_lines_are_valid_json_for_structlog_and_stdlib() -> None:
    out = io.StringIO()
    setup_logging("json", "debug", stream=out)
    log = get_logger("pyrama.test")
    log.info("listening", address="127.0.0.1:8080", opaque=Opaque(), quote='say "hi"\n')
    logging.getLogger("third.party").warning("plain %s message", "stdlib")
    try:
        raise ValueError("bad thing")
    except ValueError:
        log.exception("handler failed", conn=3)
    entries = json_lines(out)
    assert len(entries) == 3
    first, second, third = entries
    assert first["event"] == "listening"
    assert first["level"] == "info"
    assert first["logger"] == "pyrama.test"
    assert first["address"] == "127.0.0.1:8080"
    assert first["opaque"] == "<opaque>"
    assert first["quote"] == 'say "hi"\n'
    assert "timestamp" in first
    assert second["event"] == "plain stdlib message"
    assert second["level"] == "warning"
    assert second["logger"] == "third.party"
    assert third["level"] == "error"
    assert third["conn"] == 3
    assert "ValueError: bad thing" in str(third["exception"])


def test_stdlib_exception_info_in_json() -> None:
    out = io.StringIO()
    setup_logging("json", stream=out)
    try:
        raise KeyError("k")
    except KeyError:
        logging.getLogger("lib").exception("lib failed")
    [entry] = json_lines(out)
    assert "KeyError" in str(entry["exception"])


def test_level_filtering_and_extra() -> None:
    out = io.StringIO()
    setup_logging("json", "warning", stream=out)
    get_logger("x").info("hidden")
    get_logger("x").warning("shown")
    logging.getLogger("y").info("hidden too")
    logging.getLogger("y").error("with extra", extra={"peer": "::1"})
    entries = json_lines(out)
    assert [e["event"] for e in entries] == ["shown", "with extra"]
    assert entries[1]["peer"] == "::1"


def test_console_format() -> None:
    out = io.StringIO()
    setup_logging("console", stream=out, colors=False)
    get_logger("pyrama.console").info("hello", port=8080)
    text = out.getvalue()
    assert "hello" in text
    assert "port=8080" in text
    assert "\x1b[" not in text


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("json", stream=first)
    setup_logging("json", stream=second)
    get_logger("z").info("once")
    assert first.getvalue() == ""
    assert [e["event"] for e in json_lines(second)] == ["once"]


def test_extra_processors_run() -> None:
    out = io.StringIO()

    def add_service(
        _: object, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict["service"] = "edge"
        return event_dict

    setup_logging("json", stream=out, processors=[add_service])
    logging.getLogger("p").warning("tagged")
    assert json_lines(out)[0]["service"] == "edge"


def test_invalid_logging_config() -> None:
    with pytest.raises(ConfigError):
        setup_logging("xml")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        setup_logging("json", "chatty")


def test_tracer_and_meter_are_noops_without_sdk_setup() -> None:
    t = tracer("pyrama.test")
    with t.start_as_current_span("noop") as span:
        assert not span.is_recording()
    counter = meter("pyrama.test").create_counter("noop_total")
    counter.add(1)  # must not fail


def test_setup_opentelemetry_with_in_memory_exporters() -> None:
    spans = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    providers = setup_opentelemetry(
        service_name="pyrama-test",
        service_version="9.9",
        resource_attributes={"deployment.environment": "test"},
        span_exporters=[spans],
        batch_spans=False,
        metric_readers=[reader],
        set_global=False,
    )
    assert isinstance(providers, TelemetryProviders)
    t = tracer("pyrama.core.test", "0.1", tracer_provider=providers.tracer_provider)
    with t.start_as_current_span("serve", attributes={"peer": "127.0.0.1"}) as span:
        assert span.is_recording()
        with t.start_as_current_span("inner"):
            pass
    m = meter("pyrama.core.test", meter_provider=providers.meter_provider)
    m.create_counter("connections_total").add(3, {"listener": "tcp"})

    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["inner", "serve"]
    serve = finished[1]
    assert serve.attributes is not None
    assert serve.attributes["peer"] == "127.0.0.1"
    assert finished[0].parent is not None
    assert finished[0].parent.span_id == serve.context.span_id
    assert serve.resource.attributes["service.name"] == "pyrama-test"
    assert serve.resource.attributes["service.version"] == "9.9"
    assert serve.resource.attributes["deployment.environment"] == "test"
    assert serve.instrumentation_scope is not None
    assert serve.instrumentation_scope.name == "pyrama.core.test"

    data = reader.get_metrics_data()
    assert data is not None
    points = [
        (metric.name, getattr(point, "value", None), dict(point.attributes or {}))
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    ]
    assert points == [("connections_total", 3, {"listener": "tcp"})]
    assert providers.force_flush(1000)
    providers.shutdown()
    # not installed globally
    assert trace.get_tracer_provider() is not providers.tracer_provider


def test_batch_span_processor_is_the_default() -> None:
    spans = InMemorySpanExporter()
    providers = setup_opentelemetry(span_exporters=[spans], set_global=False)
    with tracer("b", tracer_provider=providers.tracer_provider).start_as_current_span("s"):
        pass
    assert providers.force_flush(5000)
    assert [s.name for s in spans.get_finished_spans()] == ["s"]
    providers.shutdown()


def test_missing_sdk_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)
    with pytest.raises(ConfigError, match=r"pip install 'pyrama-core\[telemetry\]'") as info:
        setup_opentelemetry(set_global=False)
    assert isinstance(info.value.__cause__, ImportError)


def test_global_install_in_a_fresh_process() -> None:
    # OpenTelemetry allows one global provider per process: test that path in its own.
    code = textwrap.dedent(
        """
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from pyrama_core.errors import ConfigError
        from pyrama_core.telemetry import setup_opentelemetry, tracer

        spans = InMemorySpanExporter()
        providers = setup_opentelemetry(span_exporters=[spans], batch_spans=False)
        with tracer("global.test").start_as_current_span("g"):
            pass
        assert [s.name for s in spans.get_finished_spans()] == ["g"]
        try:
            setup_opentelemetry()
        except ConfigError as exc:
            assert "already installed" in str(exc)
        else:
            raise AssertionError("second global install must fail")
        providers.shutdown()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_fast_formatter_renders_exactly_as_structlogs_processor_formatter(fmt: str) -> None:
    import structlog

    from pyrama_core.telemetry import _logging

    ours = io.StringIO()
    setup_logging(fmt, "debug", stream=ours, colors=False)  # type: ignore[arg-type]
    handler = _logging._handler
    assert handler is not None
    formatter = handler.formatter
    assert isinstance(formatter, _logging._Formatter)
    # the same configuration rendered by structlog's own formatter, on a second handler
    reference = io.StringIO()
    ref_handler = logging.StreamHandler(reference)
    ref_handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=formatter.foreign_pre_chain, processors=formatter.processors
        )
    )
    seen: list[object] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.msg)

    root = logging.getLogger()
    root.addHandler(ref_handler)
    root.addHandler(Spy())
    try:
        log = get_logger("pyrama.fmt")
        log.info("plain", a=1, b="x", c=[1, 2], d=Opaque())
        log.debug("with %s", "args")
        log.warning("bound", user="u").__class__  # noqa: B018
        log.bind(req="r1").error("bound and more", n=3)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed", k="v")  # exception info: structlog's own path
        logging.getLogger("foreign").warning("stdlib %d", 7)
        log.info("stack", stack_info=True)
    finally:
        root.removeHandler(ref_handler)
        for h in list(root.handlers):
            if isinstance(h, Spy):
                root.removeHandler(h)
    # a foreign (stdlib) record is stamped by each formatter on its own: compare without times
    import re

    def untimed(text: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<time>", text)

    assert untimed(ours.getvalue()) == untimed(reference.getvalue())
    assert ours.getvalue().count("\n") >= 7
    # the record other handlers get is left as it was (its message is still the event dict)
    assert all(isinstance(m, dict) for m in seen if not isinstance(m, str))
    assert any(isinstance(m, dict) for m in seen)


def test_structlog_records_are_not_copied_but_foreign_ones_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    setup_logging("json", "debug", stream=out)
    copies: list[object] = []
    real = logging.makeLogRecord

    def counting(d: dict[str, Any]) -> logging.LogRecord:
        copies.append(d)
        return real(d)

    monkeypatch.setattr(logging, "makeLogRecord", counting)
    get_logger("pyrama.copy").info("fast", n=1)
    assert copies == []
    logging.getLogger("foreign").info("slow %s", "path")
    assert len(copies) == 1
    lines = json_lines(out)
    assert lines[0]["event"] == "fast"
    assert lines[0]["n"] == 1
    assert lines[1]["event"] == "slow path"


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.builds(Opaque),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_json_values)
def test_cached_json_encoder_writes_what_json_dumps_writes(value: object) -> None:
    from pyrama_core.telemetry._logging import _json_dumps

    def fallback(o: object) -> str:
        return repr(o)

    assert _json_dumps({"v": value}, default=fallback) == json.dumps({"v": value}, default=fallback)
    assert _json_dumps({"v": value}, default=fallback, sort_keys=True) == json.dumps(
        {"v": value}, default=fallback, sort_keys=True
    )


def test_debug_enabled_follows_the_configured_level() -> None:
    out = io.StringIO()
    setup_logging("json", "info", stream=out)
    assert debug_enabled("pyrama.test.hot") is False
    get_logger("pyrama.test.hot").debug("dropped")
    setup_logging("json", "debug", stream=out)
    assert debug_enabled("pyrama.test.hot") is True
    get_logger("pyrama.test.hot").debug("kept")
    assert [e["event"] for e in json_lines(out)] == ["kept"]
    logging.getLogger("pyrama.test.hot").setLevel(logging.WARNING)  # a per-logger level wins
    try:
        assert debug_enabled("pyrama.test.hot") is False
    finally:
        logging.getLogger("pyrama.test.hot").setLevel(logging.NOTSET)


def test_debug_enabled_defers_to_other_structlog_configurations() -> None:
    from structlog.testing import capture_logs

    setup_logging("json", "info", stream=io.StringIO())
    assert debug_enabled("pyrama.test.hot") is False
    with capture_logs() as logs:  # no level filter in this configuration: structlog decides
        assert debug_enabled("pyrama.test.hot") is True
        get_logger("pyrama.test.hot").debug("captured")
    assert [e["event"] for e in logs] == ["captured"]
