"""Datastar's server-sent events: patch elements, patch signals, execute a script.

Datastar (https://data-star.dev) is a small browser library driven by server-sent events. A
server answers a Datastar request with a ``text/event-stream`` of these events (the wire
format of Datastar's SDK specification):

* :class:`PatchElements`: event ``datastar-patch-elements`` with ``selector``, ``mode``,
  ``useViewTransition`` and one ``elements`` data line per line of HTML;
* :class:`PatchSignals`: event ``datastar-patch-signals`` with ``onlyIfMissing`` and one
  ``signals`` data line per line of JSON (an RFC 7386 merge patch);
* :class:`ExecuteScript`: a ``datastar-patch-elements`` event that appends a ``<script>`` to
  ``body`` (removed again after it ran unless ``auto_remove`` is false).

Each converts to an :class:`~pyrama_http_types.SseEvent` (:meth:`to_sse_event`), and
:func:`parse_datastar_event` reads one back (what a test or a Python client does).
"""

from __future__ import annotations

import enum
import json as _json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pyrama_http_types._message import Response
from pyrama_http_types._sse import SSE_CONTENT_TYPE, SseEvent
from pyrama_http_types.errors import DatastarError

__all__ = [
    "DATASTAR_DEFAULT_RETRY",
    "DATASTAR_PATCH_ELEMENTS",
    "DATASTAR_PATCH_SIGNALS",
    "DatastarEvent",
    "ElementPatchMode",
    "ExecuteScript",
    "PatchElements",
    "PatchSignals",
    "parse_datastar_event",
]

DATASTAR_PATCH_ELEMENTS: Final = "datastar-patch-elements"
"""The SSE event type of :class:`PatchElements` (and :class:`ExecuteScript`)."""

DATASTAR_PATCH_SIGNALS: Final = "datastar-patch-signals"
"""The SSE event type of :class:`PatchSignals`."""

DATASTAR_DEFAULT_RETRY: Final = 1000
"""Datastar's default reconnection delay (ms); a ``retry`` equal to it is not written."""


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class ElementPatchMode(enum.Enum):
    """How :class:`PatchElements` puts its elements into the page."""

    OUTER = "outer"
    """Morph the whole target element (the default)."""
    INNER = "inner"
    """Morph the target's inner HTML."""
    REPLACE = "replace"
    """Replace the target element (no morphing: its state is reset)."""
    PREPEND = "prepend"
    """Insert at the start inside the target."""
    APPEND = "append"
    """Insert at the end inside the target."""
    BEFORE = "before"
    """Insert before the target."""
    AFTER = "after"
    """Insert after the target."""
    REMOVE = "remove"
    """Remove the target(s)."""


def _sse(event_type: str, lines: list[str], id: str | None, retry: int | None) -> SseEvent:
    return SseEvent(
        event=event_type,
        id=id,
        retry=None if retry == DATASTAR_DEFAULT_RETRY else retry,
        data="\n".join(lines),
    )


def _lines(text: str) -> list[str]:
    return _LINE_BREAK.split(text)


def _check_line(what: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise DatastarError(f"a Datastar {what} must be one line: {value!r}")


def _one_response(event: SseEvent) -> Response:
    return Response(
        200,
        headers=[("Content-Type", SSE_CONTENT_TYPE), ("Cache-Control", "no-cache")],
        body=event.encode(),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PatchElements:
    """Patch HTML elements into the page (``datastar-patch-elements``).

    Without a *selector* every top-level element must have an ``id`` (the target). With
    :attr:`ElementPatchMode.REMOVE` *elements* may be left out (the selector names what to
    remove); every other mode needs elements.
    """

    elements: str | None = None
    """One or more complete HTML elements (may span lines)."""
    selector: str | None = None
    """A CSS selector for the target, or ``None`` to target by element ``id``."""
    mode: ElementPatchMode = ElementPatchMode.OUTER
    """How to patch."""
    use_view_transition: bool = False
    """Whether to use the browser's View Transitions API."""
    id: str | None = None
    """The SSE event id."""
    retry: int | None = None
    """The SSE reconnection delay in milliseconds."""

    def __post_init__(self) -> None:
        mode: object = self.mode
        if not isinstance(mode, ElementPatchMode):
            object.__setattr__(self, "mode", ElementPatchMode(mode))
        if self.selector is not None:
            _check_line("selector", self.selector)
        if self.elements is None and self.mode is not ElementPatchMode.REMOVE:
            raise DatastarError("PatchElements needs elements unless mode is remove")
        if self.mode is ElementPatchMode.REMOVE and self.elements is None and not self.selector:
            raise DatastarError("PatchElements in mode remove needs a selector or elements")

    @classmethod
    def remove(cls, selector: str) -> PatchElements:
        """Remove the elements matching *selector*."""
        return cls(selector=selector, mode=ElementPatchMode.REMOVE)

    def to_sse_event(self) -> SseEvent:
        """The server-sent event Datastar understands."""
        lines: list[str] = []
        if self.selector is not None:
            lines.append(f"selector {self.selector}")
        if self.mode is not ElementPatchMode.OUTER:
            lines.append(f"mode {self.mode.value}")
        if self.use_view_transition:
            lines.append("useViewTransition true")
        if self.elements is not None:
            lines.extend(f"elements {line}" for line in _lines(self.elements))
        return _sse(DATASTAR_PATCH_ELEMENTS, lines, self.id, self.retry)

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` wire format."""
        return self.to_sse_event().encode()

    def into_response(self) -> Response:
        """A complete ``text/event-stream`` response holding only this event."""
        return _one_response(self.to_sse_event())


@dataclass(frozen=True, slots=True, kw_only=True)
class PatchSignals:
    """Patch the page's signals (``datastar-patch-signals``): a JSON merge patch (RFC 7386).

    *signals* is the JSON text, or a mapping that is serialised compactly. A ``null`` value
    removes a signal. With *only_if_missing* only signals the page does not have are set.
    """

    signals: str | Mapping[str, Any]
    """The merge patch as JSON text (a mapping is turned into JSON)."""
    only_if_missing: bool = False
    """Only set signals that do not exist yet."""
    id: str | None = None
    """The SSE event id."""
    retry: int | None = None
    """The SSE reconnection delay in milliseconds."""

    def __post_init__(self) -> None:
        if not isinstance(self.signals, str):
            text = _json.dumps(dict(self.signals), separators=(",", ":"), ensure_ascii=False)
            object.__setattr__(self, "signals", text)

    @property
    def json_text(self) -> str:
        """The merge patch as JSON text."""
        signals = self.signals
        assert isinstance(signals, str)
        return signals

    def patch(self) -> Any:
        """The merge patch parsed from JSON; :class:`DatastarError` if it is not JSON."""
        try:
            return _json.loads(self.json_text)
        except ValueError as exc:
            raise DatastarError(f"the signals are not JSON: {exc}") from exc

    def to_sse_event(self) -> SseEvent:
        """The server-sent event Datastar understands."""
        lines: list[str] = []
        if self.only_if_missing:
            lines.append("onlyIfMissing true")
        lines.extend(f"signals {line}" for line in _lines(self.json_text))
        return _sse(DATASTAR_PATCH_SIGNALS, lines, self.id, self.retry)

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` wire format."""
        return self.to_sse_event().encode()

    def into_response(self) -> Response:
        """A complete ``text/event-stream`` response holding only this event."""
        return _one_response(self.to_sse_event())


def _attr_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecuteScript:
    """Run JavaScript in the page: a ``<script>`` appended to ``body`` by patch-elements.

    With *auto_remove* (the default) the tag gets ``data-effect="el.remove()"`` so it removes
    itself after running. *attributes* are added to the tag as ``name="value"`` pairs.
    The script may not contain ``</script`` (it would end the tag early).
    """

    script: str
    """The JavaScript (may span lines)."""
    auto_remove: bool = True
    """Remove the tag once it ran."""
    attributes: Sequence[tuple[str, str]] = field(default=())
    """Extra attributes of the tag (``("type", "module")``)."""
    id: str | None = None
    """The SSE event id."""
    retry: int | None = None
    """The SSE reconnection delay in milliseconds."""

    def __post_init__(self) -> None:
        if "</script" in self.script.lower():
            raise DatastarError("a script may not contain '</script' (it would end the tag)")
        for name, _ in self.attributes:
            if not name or any(c in name for c in " \"'<>=/\t\n\r\f"):
                raise DatastarError(f"invalid attribute name {name!r}")
        object.__setattr__(self, "attributes", tuple(self.attributes))

    def tag(self) -> str:
        """The ``<script>`` element sent to the page."""
        attrs = "".join(f' {n}="{_attr_escape(v)}"' for n, v in self.attributes)
        if self.auto_remove:
            attrs += ' data-effect="el.remove()"'
        return f"<script{attrs}>{self.script}</script>"

    def to_patch_elements(self) -> PatchElements:
        """The equivalent :class:`PatchElements` (append to ``body``)."""
        return PatchElements(
            elements=self.tag(),
            selector="body",
            mode=ElementPatchMode.APPEND,
            id=self.id,
            retry=self.retry,
        )

    def to_sse_event(self) -> SseEvent:
        """The server-sent event Datastar understands."""
        return self.to_patch_elements().to_sse_event()

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` wire format."""
        return self.to_sse_event().encode()

    def into_response(self) -> Response:
        """A complete ``text/event-stream`` response holding only this event."""
        return _one_response(self.to_sse_event())


DatastarEvent = PatchElements | PatchSignals | ExecuteScript
"""Any Datastar event."""


def _true(what: str, value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise DatastarError(f"{what} must be true or false, got {value!r}")


def parse_datastar_event(event: SseEvent) -> PatchElements | PatchSignals:
    """Read a received :class:`SseEvent` as the Datastar event it carries.

    An :class:`ExecuteScript` comes back as the :class:`PatchElements` it was sent as.
    Raises :class:`~pyrama_http_types.errors.DatastarError` for another event type or an
    unknown or malformed data line.
    """
    lines = (event.data or "").split("\n") if event.data else []
    retry = event.retry
    if event.event == DATASTAR_PATCH_ELEMENTS:
        selector: str | None = None
        mode = ElementPatchMode.OUTER
        transition = False
        elements: list[str] = []
        for line in lines:
            key, _, value = line.partition(" ")
            if key == "selector":
                selector = value
            elif key == "mode":
                try:
                    mode = ElementPatchMode(value)
                except ValueError as exc:
                    raise DatastarError(f"unknown patch mode {value!r}") from exc
            elif key == "useViewTransition":
                transition = _true("useViewTransition", value)
            elif key == "elements":
                elements.append(value)
            else:
                raise DatastarError(f"unknown patch-elements data line {line!r}")
        return PatchElements(
            elements="\n".join(elements) if elements else None,
            selector=selector,
            mode=mode,
            use_view_transition=transition,
            id=event.id,
            retry=retry,
        )
    if event.event == DATASTAR_PATCH_SIGNALS:
        only = False
        signals: list[str] = []
        for line in lines:
            key, _, value = line.partition(" ")
            if key == "onlyIfMissing":
                only = _true("onlyIfMissing", value)
            elif key == "signals":
                signals.append(value)
            else:
                raise DatastarError(f"unknown patch-signals data line {line!r}")
        if not signals:
            raise DatastarError("a patch-signals event without signals")
        return PatchSignals(
            signals="\n".join(signals), only_if_missing=only, id=event.id, retry=retry
        )
    raise DatastarError(f"not a Datastar event: {event.event!r}")
