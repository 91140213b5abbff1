"""Multipart: a streaming ``multipart/form-data`` parser (RFC 7578) with limits.

:class:`MultipartParser` is sans-IO: :meth:`~MultipartParser.feed` takes bytes and returns
events (:class:`PartStart`, ``bytes`` of part content, :data:`PART_END`); :class:`Multipart`
is the extractor that drives it over a request body and hands out :class:`Part` s one by
one, so an upload is never held in memory unless a part is :meth:`~Part.read`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final, Self

from pyrama_http.web._errors import ExtractError
from pyrama_http_types import Body, HeaderMap, Request
from pyrama_http_types.errors import BodyError, BodyTooLargeError

__all__ = [
    "PART_END",
    "Multipart",
    "MultipartError",
    "MultipartLimits",
    "MultipartParser",
    "Part",
    "PartStart",
    "boundary_of",
    "header_params",
]


class MultipartError(ExtractError):
    """A multipart body is malformed (``400``) or over one of its limits (``413``)."""


@dataclass(frozen=True, slots=True)
class MultipartLimits:
    """Limits of a multipart body; going over one is answered ``413``."""

    max_parts: int = 128
    """Most parts in one body."""
    max_part_size: int = 16 * 1024 * 1024
    """Most content bytes in one part."""
    max_header_size: int = 8 * 1024
    """Most bytes of one part's header block."""
    max_body_size: int | None = 64 * 1024 * 1024
    """Most bytes of the whole body (``None``: the server's limit only)."""
    max_boundary: int = 70
    """Longest boundary accepted (RFC 2046 allows 70 characters)."""


@dataclass(frozen=True, slots=True)
class PartStart:
    """A part begins: its header fields and what ``Content-Disposition`` says."""

    headers: HeaderMap
    """The part's header fields."""
    name: str | None
    """The form field name (``Content-Disposition: form-data; name=...``)."""
    filename: str | None
    """The file name for file uploads, else ``None``."""
    content_type: str | None
    """The part's ``Content-Type``, if given."""


class _PartEnd:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PART_END"


PART_END: Final = _PartEnd()
"""The event ending a part."""

Event = PartStart | bytes | _PartEnd


class _Done:
    __slots__ = ()


_DONE_EVENT: Final = _Done()

_PREAMBLE, _AFTER_BOUNDARY, _HEADERS, _BODY, _DONE = range(5)


def _utf8(text: str | None) -> str | None:
    """Browsers send raw UTF-8 names; Latin-1 decoding gave us the bytes back."""
    if text is None or text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``value; a=1; b="x;y"`` into its first item and lowercase-named parameters.

    Quoted values are unquoted (backslash escapes resolved); an unterminated quote runs to
    the end. Parameters without ``=`` are ignored; the first of a repeated name wins.
    """
    items: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    for c in value:
        if escaped:
            cur.append(c)
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
            cur.append(c)
        elif c == ";" and not quoted:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    items.append("".join(cur))
    params: dict[str, str] = {}
    for item in items[1:]:
        key, eq, raw = item.strip(" \t").partition("=")
        if not eq:
            continue
        raw = raw.strip(" \t")
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
            raw = raw[1:-1]
        elif raw[:1] == '"':
            raw = raw[1:]
        params.setdefault(key.strip(" \t").lower(), raw)
    return items[0].strip(" \t"), params


class MultipartParser:
    """A sans-IO ``multipart/form-data`` parser: bytes in, events out.

    Events: :class:`PartStart`, ``bytes`` (part content, possibly several chunks per part)
    and :data:`PART_END`. :attr:`done` is true after the closing delimiter (anything after
    it, the epilogue, is ignored); :meth:`finish` raises if the body ended before that.
    Errors are :class:`MultipartError` (``400`` malformed, ``413`` over a limit).
    """

    __slots__ = (
        "_buf",
        "_delim",
        "_first",
        "_limits",
        "_part_size",
        "_parts",
        "_state",
    )

    def __init__(self, boundary: bytes | str, limits: MultipartLimits | None = None) -> None:
        """Parse a body delimited by *boundary* (without the leading ``--``)."""
        self._limits = limits or MultipartLimits()
        b = boundary.encode("latin-1") if isinstance(boundary, str) else boundary
        if not b or len(b) > self._limits.max_boundary:
            raise MultipartError(f"invalid multipart boundary of {len(b)} bytes", status=400)
        self._first = b"--" + b
        self._delim = b"\r\n--" + b
        self._buf = bytearray()
        self._state = _PREAMBLE
        self._parts = 0
        self._part_size = 0

    @property
    def done(self) -> bool:
        """Whether the closing delimiter was seen."""
        return self._state == _DONE

    def feed(self, data: bytes) -> list[Event]:
        """Parse *data*; return the events it completes."""
        if self._state == _DONE:
            return []
        buf = self._buf
        buf += data
        out: list[Event] = []
        while True:
            state = self._state
            if state == _BODY:
                i = buf.find(self._delim)
                if i < 0:
                    keep = len(self._delim) - 1
                    n = len(buf) - keep
                    if n > 0:
                        self._content(out, bytes(buf[:n]))
                        del buf[:n]
                    return out
                if i:
                    self._content(out, bytes(buf[:i]))
                del buf[: i + len(self._delim)]
                out.append(PART_END)
                self._state = _AFTER_BOUNDARY
            elif state == _PREAMBLE:
                if buf.startswith(self._first):
                    del buf[: len(self._first)]
                    self._state = _AFTER_BOUNDARY
                    continue
                i = buf.find(self._delim)
                if i < 0:
                    # preamble text is ignored; keep what could start a delimiter
                    keep = len(self._delim) - 1
                    if len(buf) > keep and len(buf) >= len(self._first):
                        del buf[: len(buf) - keep]
                    if len(buf) > self._limits.max_header_size + len(self._delim):
                        raise MultipartError("no multipart boundary found", status=400)
                    return out
                del buf[: i + len(self._delim)]
                self._state = _AFTER_BOUNDARY
            elif state == _AFTER_BOUNDARY:
                if len(buf) < 2:
                    return out
                if buf[:2] == b"--":
                    self._state = _DONE
                    buf.clear()
                    return out
                j = 0
                while j < len(buf) and buf[j] in b" \t":  # transport padding
                    j += 1
                if j + 2 > len(buf):
                    if j > 256:
                        raise MultipartError("too much padding after a boundary", status=400)
                    return out
                if buf[j : j + 2] != b"\r\n":
                    raise MultipartError("malformed multipart boundary line", status=400)
                del buf[: j + 2]
                self._state = _HEADERS
            elif state == _HEADERS:
                if buf.startswith(b"\r\n"):
                    end, block = 2, b""
                else:
                    i = buf.find(b"\r\n\r\n")
                    if i < 0:
                        if len(buf) > self._limits.max_header_size:
                            raise MultipartError(
                                f"multipart part headers over {self._limits.max_header_size} bytes",
                                status=413,
                            )
                        return out
                    if i > self._limits.max_header_size:
                        raise MultipartError(
                            f"multipart part headers over {self._limits.max_header_size} bytes",
                            status=413,
                        )
                    end, block = i + 4, bytes(buf[:i])
                del buf[:end]
                out.append(self._start(block))
                self._state = _BODY
            else:  # pragma: no cover - _DONE returns above
                return out

    def _content(self, out: list[Event], chunk: bytes) -> None:
        self._part_size += len(chunk)
        if self._part_size > self._limits.max_part_size:
            raise MultipartError(
                f"a multipart part is larger than {self._limits.max_part_size} bytes", status=413
            )
        out.append(chunk)

    def _start(self, block: bytes) -> PartStart:
        self._parts += 1
        if self._parts > self._limits.max_parts:
            raise MultipartError(
                f"more than {self._limits.max_parts} parts in a multipart body", status=413
            )
        self._part_size = 0
        pairs: list[tuple[bytes, bytes]] = []
        for line in block.split(b"\r\n") if block else ():
            name, colon, value = line.partition(b":")
            name = name.strip(b" \t")
            if not colon or not name or any(c <= 0x20 or c >= 0x7F for c in name):
                raise MultipartError(f"malformed multipart header line {line[:60]!r}", status=400)
            if b"\x00" in value or b"\r" in value or b"\n" in value:
                raise MultipartError("invalid character in a multipart header", status=400)
            pairs.append((name, value.strip(b" \t")))
        headers = HeaderMap.from_raw(pairs)
        disposition = headers.get("content-disposition")
        params = {} if disposition is None else header_params(disposition)[1]
        name_, filename = params.get("name"), params.get("filename")
        return PartStart(headers, _utf8(name_), _utf8(filename), headers.get("content-type"))

    def finish(self) -> None:
        """The body ended: raise :class:`MultipartError` unless the closing delimiter came."""
        if self._state != _DONE:
            raise MultipartError("the multipart body ended before its closing boundary", status=400)


def boundary_of(content_type: bytes | None) -> str:
    """The boundary of a ``multipart/form-data`` Content-Type; :class:`ExtractError` if none."""
    if content_type is None:
        raise ExtractError("expected a request with Content-Type: multipart/form-data", status=415)
    essence, params = header_params(content_type.decode("latin-1"))
    if essence.lower() != "multipart/form-data":
        raise ExtractError("expected a request with Content-Type: multipart/form-data", status=415)
    boundary = params.get("boundary")
    if not boundary:
        raise ExtractError("multipart/form-data without a boundary parameter", status=400)
    return boundary


class Part:
    """One part of a :class:`Multipart` body: its headers and a stream of its content.

    Read the content once: ``async for chunk in part``, :meth:`read` or :meth:`text`. Moving
    on to the next part skips what is left of this one.
    """

    __slots__ = ("_done", "_owner", "content_type", "filename", "headers", "name")

    def __init__(self, owner: Multipart, start: PartStart) -> None:
        self._owner = owner
        self._done = False
        self.headers = start.headers
        """The part's header fields."""
        self.name = start.name
        """The form field name."""
        self.filename = start.filename
        """The uploaded file's name, or ``None`` for a plain field."""
        self.content_type = start.content_type
        """The part's ``Content-Type``, or ``None``."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while not self._done:
            ev = await self._owner._event()
            if ev is PART_END:
                self._done = True
                return
            if not isinstance(ev, bytes):  # pragma: no cover - the parser's order forbids it
                raise MultipartError("malformed multipart body", status=400)
            yield ev

    async def read(self) -> bytes:
        """The whole content of this part (bounded by ``max_part_size``)."""
        return b"".join([c async for c in self._chunks()])

    async def text(self, encoding: str = "utf-8") -> str:
        """The content decoded with *encoding*; ``400`` if it does not decode."""
        data = await self.read()
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise MultipartError(
                f"part {self.name!r} is not valid {encoding}", status=400
            ) from None

    async def _skip(self) -> None:
        async for _ in self._chunks():
            pass

    def __repr__(self) -> str:
        return f"Part(name={self.name!r}, filename={self.filename!r})"


class Multipart:
    """The ``multipart/form-data`` extractor: parts streamed one at a time.

    Take it as a handler parameter (``async def upload(form: Multipart)``), then::

        async for part in form:
            if part.filename: ... async for chunk in part: ...
            else: value = await part.text()

    A request that is not ``multipart/form-data`` is answered ``415``; a malformed body
    ``400``; a body over :class:`MultipartLimits` ``413`` (errors raised while the handler
    iterates become those responses too). Other limits: annotate the parameter
    ``Annotated[Multipart, MultipartLimits(max_parts=...)]``, or build one by hand with
    ``Multipart(body, boundary, limits)``.
    """

    __slots__ = ("_current", "_events", "_iter", "_parser")

    def __init__(self, body: Body, boundary: str, limits: MultipartLimits | None = None) -> None:
        """Stream the parts of *body*, delimited by *boundary*."""
        limits = limits or MultipartLimits()
        if limits.max_body_size is not None:
            body.limited(limits.max_body_size)
        self._parser = MultipartParser(boundary, limits)
        self._iter: AsyncIterator[bytes] | None = aiter(body)
        self._events: deque[Event] = deque()
        self._current: Part | None = None

    @classmethod
    async def from_request(cls, request: Request) -> Self:
        """The extractor hook: check the Content-Type, then stream the request body."""
        boundary = boundary_of(request.headers.get_raw("content-type"))
        return cls(request.body, boundary)

    async def _event(self) -> Event | _Done:
        events = self._events
        while not events:
            if self._parser.done:
                return _DONE_EVENT
            it = self._iter
            if it is None:
                raise MultipartError("the multipart body ended early", status=400)
            try:
                chunk = await anext(it)
            except StopAsyncIteration:
                self._iter = None
                self._parser.finish()
                continue
            except BodyTooLargeError as exc:
                self._iter = None
                raise MultipartError(f"the multipart body is too large: {exc}", status=413) from exc
            except BodyError as exc:
                self._iter = None
                raise MultipartError(
                    f"could not read the multipart body: {exc}", status=400
                ) from exc
            events.extend(self._parser.feed(chunk))
        return events.popleft()

    async def next_part(self) -> Part | None:
        """The next part, or ``None`` after the last one."""
        if self._current is not None:
            await self._current._skip()
            self._current = None
        ev = await self._event()
        if ev is _DONE_EVENT:
            return None
        if not isinstance(ev, PartStart):  # pragma: no cover - parser order guarantees it
            raise MultipartError("malformed multipart body", status=400)
        self._current = Part(self, ev)
        return self._current

    def __aiter__(self) -> AsyncIterator[Part]:
        return self._parts()

    async def _parts(self) -> AsyncIterator[Part]:
        while True:
            part = await self.next_part()
            if part is None:
                return
            yield part

    async def fields(self) -> dict[str, str]:
        """Read every part as text into ``{name: value}`` (file parts included as text)."""
        out: dict[str, str] = {}
        async for part in self:
            value = await part.text()
            if part.name is not None:
                out[part.name] = value
        return out
