"""Datastar events: the exact wire format of the SDK specification, and parsing it back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_types import (
    ElementPatchMode,
    ExecuteScript,
    PatchElements,
    PatchSignals,
    SseEvent,
    SseParser,
    parse_datastar_event,
)
from pyrama_http_types.errors import DatastarError


def test_patch_elements_minimal_and_full() -> None:
    assert PatchElements(elements='<div id="feed"><span>1</span></div>').encode() == (
        b'event: datastar-patch-elements\ndata: elements <div id="feed"><span>1</span></div>\n\n'
    )
    full = PatchElements(
        elements='<div id="feed">\n    <span>1</span>\n</div>',
        selector="#feed",
        mode=ElementPatchMode.INNER,
        use_view_transition=True,
        id="123",
        retry=2000,
    )
    assert full.encode() == (
        b"event: datastar-patch-elements\nid: 123\nretry: 2000\n"
        b"data: selector #feed\ndata: mode inner\ndata: useViewTransition true\n"
        b'data: elements <div id="feed">\ndata: elements     <span>1</span>\n'
        b"data: elements </div>\n\n"
    )


def test_default_retry_is_not_written_and_modes_by_name() -> None:
    ev = PatchElements(elements="<p id=a></p>", retry=1000, mode="append")  # type: ignore[arg-type]
    assert ev.mode is ElementPatchMode.APPEND
    assert b"retry" not in ev.encode()


def test_remove_needs_a_target() -> None:
    assert PatchElements.remove("#feed, #other").encode() == (
        b"event: datastar-patch-elements\ndata: selector #feed, #other\ndata: mode remove\n\n"
    )
    with pytest.raises(DatastarError):
        PatchElements(mode=ElementPatchMode.REMOVE)
    with pytest.raises(DatastarError):
        PatchElements()  # outer without elements
    with pytest.raises(DatastarError):
        PatchElements(elements="<p id=a></p>", selector="#a\ndata: x")


def test_patch_signals() -> None:
    assert PatchSignals(signals={"output": "x", "show": True}).encode() == (
        b'event: datastar-patch-signals\ndata: signals {"output":"x","show":true}\n\n'
    )
    ev = PatchSignals(signals='{"a":\n 1}', only_if_missing=True, id="9")
    assert ev.encode() == (
        b"event: datastar-patch-signals\nid: 9\n"
        b'data: onlyIfMissing true\ndata: signals {"a":\ndata: signals  1}\n\n'
    )
    assert ev.patch() == {"a": 1}
    with pytest.raises(DatastarError):
        PatchSignals(signals="{bad").patch()


def test_execute_script() -> None:
    assert ExecuteScript(script="console.log('Here')").encode() == (
        b"event: datastar-patch-elements\ndata: selector body\ndata: mode append\n"
        b"data: elements <script data-effect=\"el.remove()\">console.log('Here')</script>\n\n"
    )
    ev = ExecuteScript(script="go()", auto_remove=False, attributes=[("type", 'module"x')], id="1")
    assert ev.tag() == '<script type="module&quot;x">go()</script>'
    with pytest.raises(DatastarError):
        ExecuteScript(script="a</SCRIPT>b")
    with pytest.raises(DatastarError):
        ExecuteScript(script="x", attributes=[("on click", "y")])


def test_into_response_is_an_event_stream() -> None:
    resp = PatchSignals(signals={"n": 1}).into_response()
    assert resp.headers["content-type"] == "text/event-stream"
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.body.try_take_bytes() == PatchSignals(signals={"n": 1}).encode()


def test_parse_rejects_foreign_events() -> None:
    with pytest.raises(DatastarError):
        parse_datastar_event(SseEvent(data="x"))
    with pytest.raises(DatastarError):
        parse_datastar_event(SseEvent(event="datastar-patch-elements", data="bogus line"))
    with pytest.raises(DatastarError):
        parse_datastar_event(SseEvent(event="datastar-patch-signals", data="onlyIfMissing yes"))
    with pytest.raises(DatastarError):
        parse_datastar_event(SseEvent(event="datastar-patch-elements", data="mode sideways"))


_line = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=15
)
_html = st.lists(_line, min_size=1, max_size=4).map("\n".join)


@given(
    _html,
    st.none() | _line,
    st.sampled_from([m for m in ElementPatchMode if m is not ElementPatchMode.REMOVE]),
    st.booleans(),
    st.none() | st.integers(0, 99999).filter(lambda r: r != 1000),
)
def test_patch_elements_round_trip(
    html: str, selector: str | None, mode: ElementPatchMode, vt: bool, retry: int | None
) -> None:
    ev = PatchElements(
        elements=html, selector=selector, mode=mode, use_view_transition=vt, retry=retry
    )
    (sse,) = SseParser().feed(ev.encode())
    assert parse_datastar_event(sse) == ev


@given(st.dictionaries(_line, st.integers() | _line | st.none() | st.booleans(), max_size=5))
def test_patch_signals_round_trip(obj: dict[str, object]) -> None:
    ev = PatchSignals(signals=obj, only_if_missing=bool(obj))
    (sse,) = SseParser().feed(ev.encode())
    back = parse_datastar_event(sse)
    assert isinstance(back, PatchSignals)
    assert back.patch() == obj
    assert back.only_if_missing == bool(obj)
