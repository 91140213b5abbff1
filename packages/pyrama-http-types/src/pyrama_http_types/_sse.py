"""Server-sent events (the ``text/event-stream`` format): the event model, encoder and parser.

The format is the WHATWG HTML "server-sent events" one: an event is a block of ``field: value``
lines (``event``, ``data``, ``id``, ``retry``; a line starting with ``:`` is a comment) ended
by an empty line. Lines end with CRLF, LF or CR.

* :class:`SseEvent` is one event; :meth:`SseEvent.encode` writes it (a multi-line ``data``
  becomes several ``data:`` lines).
* :class:`SseParser` is the sans-IO, incremental decoder a client uses: feed it bytes as they
  arrive, get the complete events back. It follows the specification's processing model (a
  leading BOM is skipped, one space after the colon is dropped, unknown fields and a ``retry``
  that is not all digits (or has over 15) are ignored, a block without data dispatches
  nothing) and bounds the memory a peer can make it hold.
"""

from __future__ import annotations

import codecs
import json as _json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pyrama_http_types.errors import SseError, SseLimitError

__all__ = [
    "DEFAULT_SSE_MAX_EVENT_SIZE",
    "DEFAULT_SSE_MAX_LINE_SIZE",
    "SSE_CONTENT_TYPE",
    "SseEvent",
    "SseParser",
]

SSE_CONTENT_TYPE: Final = "text/event-stream"
"""The media type of an event stream."""

DEFAULT_SSE_MAX_LINE_SIZE: Final = 1024 * 1024
"""The longest line (in characters) :class:`SseParser` buffers by default."""

DEFAULT_SSE_MAX_EVENT_SIZE: Final = 4 * 1024 * 1024
"""The most ``data`` (in characters) one event may carry in :class:`SseParser` by default."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BREAK_CHARS = re.compile(r"[\r\n]")


def _single_line(what: str, value: str) -> str:
    if _BREAK_CHARS.search(value) is not None:
        raise SseError(f"an event's {what} may not contain CR or LF: {value!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class SseEvent:
    """One server-sent event.

    Every field is optional. ``data`` may span lines (any of CRLF, LF, CR separate them; each
    line is sent as its own ``data:`` line and the receiver joins them with LF). ``event``
    names the event type (receivers treat a missing one as ``message``), ``id`` sets the
    receiver's last event id, ``retry`` the reconnection delay in milliseconds, and
    ``comment`` is sent as ``:`` lines that receivers ignore (what keep-alives are made of).

    ``event`` and ``id`` must be single lines (a CR or LF would let a value forge fields:
    :class:`~pyrama_http_types.errors.SseError`); ``id`` may not contain NUL either, and
    ``retry`` must be ``>= 0``.
    """

    data: str | None = None
    """The payload (may span lines), or ``None`` for no ``data`` field."""
    event: str | None = None
    """The event type, or ``None`` (a ``message`` event)."""
    id: str | None = None
    """The event id (``""`` resets the receiver's last event id)."""
    retry: int | None = None
    """The reconnection delay in milliseconds."""
    comment: str | None = None
    """A comment (may span lines), ignored by receivers."""

    def __post_init__(self) -> None:
        if self.event is not None:
            _single_line("event type", self.event)
        if self.id is not None:
            _single_line("id", self.id)
            if "\0" in self.id:
                raise SseError(f"an event id may not contain NUL: {self.id!r}")
        if self.retry is not None and (type(self.retry) is not int or self.retry < 0):
            raise SseError(f"retry must be a whole number of milliseconds >= 0, got {self.retry!r}")

    @classmethod
    def json(
        cls,
        obj: Any,
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        default: Callable[[Any], Any] | None = None,
    ) -> SseEvent:
        """An event whose data is *obj* as compact JSON (one line, non-ASCII kept)."""
        data = _json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=default)
        return cls(data=data, event=event, id=id, retry=retry)

    def json_data(self) -> Any:
        """The data parsed as JSON; :class:`~pyrama_http_types.errors.SseError` if it is not."""
        if self.data is None:
            raise SseError("the event has no data")
        try:
            return _json.loads(self.data)
        except ValueError as exc:
            raise SseError(f"the event data is not JSON: {exc}") from exc

    def to_sse_event(self) -> SseEvent:
        """Return the event itself (the conversion every event-like object offers)."""
        return self

    def encode(self) -> bytes:
        """The event in the wire format, ending with the empty line that dispatches it.

        Field order: comment, ``event``, ``id``, ``retry``, ``data``. An event with no field
        at all encodes as a lone empty line.
        """
        out: list[str] = []
        if self.comment is not None:
            for line in _LINE_BREAK.split(self.comment):
                out.append(f": {line}\n" if line else ":\n")
        if self.event is not None:
            out.append(f"event: {self.event}\n")
        if self.id is not None:
            out.append(f"id: {self.id}\n" if self.id else "id\n")
        if self.retry is not None:
            out.append(f"retry: {self.retry}\n")
        if self.data is not None:
            for line in _LINE_BREAK.split(self.data):
                out.append(f"data: {line}\n" if line else "data:\n")
        out.append("\n")
        return "".join(out).encode("utf-8")


class SseParser:
    """An incremental ``text/event-stream`` decoder: :meth:`feed` bytes, get events.

    Bytes may be split anywhere (inside a UTF-8 sequence, between CR and LF). Invalid UTF-8 is
    replaced with U+FFFD as the specification says. A dispatched event carries the data of its
    block, its ``event`` type (``None`` if not given), the stream's last event id (``id``
    persists across events, as in browsers; ``None`` while it is empty) and the ``retry`` set
    in its block. :attr:`last_event_id` and :attr:`retry` keep the stream-wide values.

    With *comments* true, every comment line is returned at once as an event holding only
    ``comment`` (useful to see keep-alives). Limits: a line longer than *max_line_size* or an
    event with more than *max_event_size* characters of data raises
    :class:`~pyrama_http_types.errors.SseLimitError`.
    """

    __slots__ = (
        "_bom_checked",
        "_data",
        "_data_size",
        "_decoder",
        "_event_retry",
        "_event_type",
        "_has_data",
        "_line",
        "_line_size",
        "_pending_cr",
        "comments",
        "last_event_id",
        "max_event_size",
        "max_line_size",
        "retry",
    )

    def __init__(
        self,
        *,
        comments: bool = False,
        max_line_size: int = DEFAULT_SSE_MAX_LINE_SIZE,
        max_event_size: int = DEFAULT_SSE_MAX_EVENT_SIZE,
    ) -> None:
        if max_line_size < 1 or max_event_size < 1:
            raise ValueError("max_line_size and max_event_size must be >= 1")
        self.comments = comments
        """Whether comment lines are returned as comment-only events."""
        self.max_line_size = max_line_size
        """The longest line accepted, in characters."""
        self.max_event_size = max_event_size
        """The most data one event may carry, in characters."""
        self.last_event_id = ""
        """The last event id seen on the stream (``""`` if none or reset)."""
        self.retry: int | None = None
        """The last valid reconnection delay (milliseconds) the stream asked for."""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._bom_checked = False
        self._line: list[str] = []
        self._line_size = 0
        self._pending_cr = False
        self._data: list[str] = []
        self._data_size = 0
        self._has_data = False
        self._event_type: str | None = None
        self._event_retry: int | None = None

    def feed(self, data: bytes) -> list[SseEvent]:
        """Decode *data* (any piece of the stream) and return the events it completed."""
        text = self._decoder.decode(data)
        return self._text(text)

    def finish(self) -> list[SseEvent]:
        """The stream ended: flush the decoder. An unterminated last event is dropped.

        (The specification discards an event not followed by an empty line.)
        """
        text = self._decoder.decode(b"", final=True)
        events = self._text(text)
        if self._pending_cr:
            self._pending_cr = False
        self._line.clear()
        self._line_size = 0
        self._reset_event()
        return events

    def _text(self, text: str) -> list[SseEvent]:
        if not text:
            return []
        if not self._bom_checked:
            self._bom_checked = True
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        events: list[SseEvent] = []
        pos = 0
        n = len(text)
        if self._pending_cr:
            self._pending_cr = False
            if text[0] == "\n":
                pos = 1  # the LF of a CRLF split across two feeds
        while pos < n:
            m = _LINE_BREAK.search(text, pos)
            if m is None:
                self._add_partial(text[pos:])
                break
            if m.group() == "\r" and m.end() == n:
                self._pending_cr = True  # an LF may follow in the next feed
            self._add_partial(text[pos : m.start()])
            line = "".join(self._line)
            self._line.clear()
            self._line_size = 0
            self._process(line, events)
            pos = m.end()
        return events

    def _add_partial(self, piece: str) -> None:
        if not piece:
            return
        size = self._line_size + len(piece)
        if size > self.max_line_size:
            raise SseLimitError(
                f"an event stream line is longer than {self.max_line_size} characters",
                limit=self.max_line_size,
            )
        self._line.append(piece)
        self._line_size = size

    def _reset_event(self) -> None:
        self._data.clear()
        self._data_size = 0
        self._has_data = False
        self._event_type = None
        self._event_retry = None

    def _process(self, line: str, events: list[SseEvent]) -> None:
        if not line:
            if self._has_data:
                data = "\n".join(self._data)
                events.append(
                    SseEvent(
                        data=data,
                        event=self._event_type or None,
                        id=self.last_event_id or None,
                        retry=self._event_retry,
                    )
                )
            self._reset_event()
            return
        if line[0] == ":":
            if self.comments:
                text = line[1:]
                events.append(SseEvent(comment=text[1:] if text[:1] == " " else text))
            return
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            size = self._data_size + len(value) + (1 if self._has_data else 0)
            if size > self.max_event_size:
                raise SseLimitError(
                    f"an event carries more than {self.max_event_size} characters of data",
                    limit=self.max_event_size,
                )
            self._data.append(value)
            self._data_size = size
            self._has_data = True
        elif field == "event":
            self._event_type = value
        elif field == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif field == "retry" and value.isascii() and value.isdigit() and len(value) <= 15:
            self.retry = int(value)
            self._event_retry = self.retry

    def __repr__(self) -> str:
        return f"SseParser(last_event_id={self.last_event_id!r}, retry={self.retry})"
