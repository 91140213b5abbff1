"""HarRecorder and HarRecorderLayer: record HTTP exchanges as HAR 1.2 entries."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from pyrama_core import Service
from pyrama_core.telemetry import get_logger
from pyrama_http.curl._export import CurlExportError, request_url
from pyrama_http.har._model import (
    HarContent,
    HarCookie,
    HarCreator,
    HarEntry,
    HarLog,
    HarNameValue,
    HarPage,
    HarPostData,
    HarRequest,
    HarResponse,
    HarTimings,
)
from pyrama_http_types import Body, HeaderMap, Request, Response
from pyrama_http_types.errors import BodyError
from pyrama_net import SocketInfo

__all__ = [
    "DEFAULT_HAR_MAX_BODY",
    "DEFAULT_SENSITIVE_HEADERS",
    "REDACTED",
    "HarRecorder",
    "HarRecorderLayer",
    "HarRecorderService",
]

_log = get_logger(__name__)

DEFAULT_HAR_MAX_BODY: Final = 1024 * 1024
"""How many bytes of each body a :class:`HarRecorder` keeps (the rest streams unrecorded)."""

DEFAULT_SENSITIVE_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-amz-security-token",
        "x-csrf-token",
        "x-xsrf-token",
    }
)
"""Header fields whose values a :class:`HarRecorder` redacts unless told otherwise."""

REDACTED: Final = "[REDACTED]"
"""What a redacted value is replaced with."""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000.0, 3)


def _text(raw: bytes) -> str:
    return raw.decode("latin-1")


class HarRecorder:
    """Collects HAR entries and writes them as a :class:`~pyrama_http.har.HarLog`.

    *max_body* bytes of each request and response body are kept (a longer body still
    streams in full; its entry notes the truncation). *redact* names the header fields whose
    values become :data:`REDACTED` (default :data:`DEFAULT_SENSITIVE_HEADERS`; give an empty
    set to record everything); cookies parsed from redacted fields are redacted too.
    *creator*, *browser* and *page* go into the log (every entry refers to the page).
    """

    __slots__ = ("_browser", "_creator", "_entries", "_max_body", "_page", "_redact", "_seq")

    def __init__(
        self,
        *,
        max_body: int = DEFAULT_HAR_MAX_BODY,
        redact: Iterable[str] = DEFAULT_SENSITIVE_HEADERS,
        creator: HarCreator | None = None,
        browser: HarCreator | None = None,
        page: HarPage | None = None,
    ) -> None:
        """Configure the recorder (see the class docs)."""
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 0:
            raise ValueError(f"max_body must be an int >= 0, got {max_body!r}")
        self._max_body = max_body
        self._redact = frozenset(n.lower() for n in redact)
        self._creator = creator or HarCreator("pyrama", "0.1.0")
        self._browser = browser
        self._page = page
        self._entries: list[tuple[int, HarEntry]] = []
        self._seq = itertools.count()

    @property
    def max_body(self) -> int:
        """Bytes kept per body."""
        return self._max_body

    @property
    def redacted_headers(self) -> frozenset[str]:
        """Lowercase names of the redacted header fields."""
        return self._redact

    @property
    def entries(self) -> list[HarEntry]:
        """The finished entries, in the order their requests started."""
        return [e for _, e in sorted(self._entries, key=lambda t: t[0])]

    def log(self) -> HarLog:
        """The :class:`~pyrama_http.har.HarLog` of everything recorded so far."""
        pages = [self._page] if self._page is not None else []
        return HarLog(self._creator, self.entries, self._browser, pages)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`log` to *path* atomically."""
        self.log().write(path)

    def clear(self) -> None:
        """Forget the recorded entries."""
        self._entries.clear()

    def _next_seq(self) -> int:
        return next(self._seq)

    def _add(self, seq: int, entry: HarEntry) -> None:
        self._entries.append((seq, entry))

    def _headers(self, headers: HeaderMap) -> list[HarNameValue]:
        out = []
        for name, value in headers.raw_items():
            n = _text(name)
            v = REDACTED if n.lower() in self._redact else _text(value)
            out.append(HarNameValue(n, v))
        return out

    def __repr__(self) -> str:
        return f"HarRecorder({len(self._entries)} entries)"


class _Capture:
    """The first bytes of a body, with its total length."""

    __slots__ = ("chunks", "kept", "limit", "total")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - self.kept
        if room > 0:
            part = chunk[:room]
            self.chunks.append(part)
            self.kept += len(part)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def truncated(self) -> bool:
        return self.total > self.kept


class _Tee:
    """Passes a body's chunks through while capturing the first ones; reports its end."""

    __slots__ = ("_body", "_done", "_it", "_on_end", "capture")

    def __init__(
        self, body: Body, limit: int, on_end: Callable[[BaseException | None], None]
    ) -> None:
        self._body = body
        self._it: Any = None
        self.capture = _Capture(limit)
        self._on_end = on_end
        self._done = False

    def trailers(self) -> HeaderMap | None:
        try:
            return self._body.trailers
        except BodyError:
            return None

    def __aiter__(self) -> _Tee:
        return self

    async def __anext__(self) -> bytes:
        if self._it is None:
            self._it = self._body.__aiter__()
        try:
            chunk: bytes = await self._it.__anext__()
        except StopAsyncIteration:
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self.capture.add(chunk)
        return chunk

    def _end(self, error: BaseException | None) -> None:
        if not self._done:
            self._done = True
            self._on_end(error)

    async def aclose(self) -> None:
        """The reader dropped the body: close the inner one and finish the entry."""
        self._end(BodyError("the body was not read to its end"))
        await self._body.aclose()

    def __del__(self) -> None:
        if not self._done:
            with contextlib.suppress(Exception):
                self._end(BodyError("the body was dropped unread"))


def _cookies_from_request(value: str, redact: bool) -> list[HarCookie]:
    out = []
    for item in value.split(";"):
        name, eq, val = item.strip().partition("=")
        if name and eq:
            out.append(HarCookie(name, REDACTED if redact else val))
    return out


def _cookie_from_set_cookie(value: str, redact: bool) -> HarCookie | None:
    first, *attrs = value.split(";")
    name, eq, val = first.strip().partition("=")
    if not name or not eq:
        return None
    cookie = HarCookie(name, REDACTED if redact else val)
    for attr in attrs:
        key, _, arg = attr.strip().partition("=")
        k = key.lower()
        if k == "path":
            cookie.path = arg
        elif k == "domain":
            cookie.domain = arg
        elif k == "expires":
            cookie.expires = arg
        elif k == "httponly":
            cookie.http_only = True
        elif k == "secure":
            cookie.secure = True
        elif k == "samesite":
            cookie.same_site = arg
    return cookie


def _as_text(data: bytes) -> str | None:
    """*data* as text if it is UTF-8 without control characters (else it is binary)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 0x20 and c not in "\t\n\r" for c in text):
        return None
    return text


def _body_text(capture: _Capture) -> tuple[str, str | None, str | None]:
    """(text, encoding, comment) of a captured body: text, else base64."""
    data = capture.data
    text = _as_text(data)
    if text is None and capture.truncated:  # the cut may have split a character
        for cut in (1, 2, 3):
            text = _as_text(data[:-cut])
            if text is not None:
                break
    comment = _truncated(capture) if capture.truncated else None
    if text is None:
        return base64.b64encode(data).decode("ascii"), "base64", comment
    return text, None, comment


def _truncated(capture: _Capture) -> str:
    return f"truncated: {capture.kept} of {capture.total} bytes recorded"


class _Exchange:
    """The facts of one exchange until its response body ends."""

    __slots__ = (
        "error",
        "recorder",
        "req_capture",
        "req_end",
        "request",
        "resp_capture",
        "response",
        "seq",
        "started",
        "t0",
        "t_head",
        "url",
    )

    def __init__(self, recorder: HarRecorder, request: Request) -> None:
        self.recorder = recorder
        self.request = request
        self.seq = recorder._next_seq()
        self.started = _now_iso()
        loop = asyncio.get_running_loop()
        self.t0 = loop.time()
        self.t_head: float | None = None
        self.req_end: float | None = None
        self.req_capture: _Capture | None = None
        self.resp_capture: _Capture | None = None
        self.response: Response | None = None
        self.error: BaseException | None = None
        try:
            self.url = request_url(request)
        except CurlExportError:
            self.url = str(request.uri)

    def request_ended(self, error: BaseException | None) -> None:
        self.req_end = asyncio.get_running_loop().time()

    def finish(self, error: BaseException | None = None) -> None:
        if error is not None and self.error is None:
            self.error = error
        end = asyncio.get_running_loop().time()
        try:
            entry = self._entry(end)
        except Exception as exc:  # never break the exchange because of the recording
            _log.warning("har entry could not be recorded", error=repr(exc))
            return
        self.recorder._add(self.seq, entry)

    def _entry(self, end: float) -> HarEntry:
        rec = self.recorder
        request = self.request
        redact = rec.redacted_headers
        head = self.t_head if self.t_head is not None else end
        send_end = self.req_end if self.req_end is not None and self.req_end < head else self.t0
        timings = HarTimings(
            send=_ms(send_end - self.t0), wait=_ms(head - send_end), receive=_ms(end - head)
        )
        query = request.uri.query
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True) if query else []
        cookies: list[HarCookie] = []
        for value in request.headers.get_all("cookie"):
            cookies += _cookies_from_request(value, "cookie" in redact)
        req_ct = request.headers.get("content-type") or ""
        post = None
        cap = self.req_capture
        if cap is not None and cap.total:
            text, encoding, comment = _body_text(cap)
            params: list[HarNameValue] = []
            if req_ct.startswith("application/x-www-form-urlencoded") and encoding is None:
                params = [
                    HarNameValue(k, v)
                    for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True)
                ]
            post = HarPostData(req_ct, text, encoding, params, comment)
        har_request = HarRequest(
            method=str(request.method),
            url=self.url,
            http_version=str(request.version),
            headers=rec._headers(request.headers),
            query_string=[HarNameValue(k, v) for k, v in pairs],
            cookies=cookies,
            post_data=post,
            body_size=-1 if cap is None else cap.total,
        )
        har_response = self._response(redact)
        server_ip = None
        connection = None
        if self.response is not None:
            info = self.response.extensions.get(SocketInfo)
            if info is not None and isinstance(info.peer, tuple):
                server_ip = str(info.peer[0])
                if isinstance(info.local, tuple) and len(info.local) >= 2:
                    connection = str(info.local[1])
        comment = None
        if self.error is not None:
            comment = f"{type(self.error).__name__}: {self.error}"
        return HarEntry(
            started_date_time=self.started,
            time=round(timings.send + timings.wait + timings.receive, 3),
            request=har_request,
            response=har_response,
            timings=timings,
            server_ip_address=server_ip,
            connection=connection,
            pageref=None if rec._page is None else rec._page.id,
            comment=comment,
        )

    def _response(self, redact: frozenset[str]) -> HarResponse:
        response = self.response
        if response is None:
            return HarResponse(0, "", "", HarContent(0, "x-unknown"), body_size=0)
        headers = response.headers
        cookies = []
        for value in headers.get_all("set-cookie"):
            cookie = _cookie_from_set_cookie(value, "set-cookie" in redact)
            if cookie is not None:
                cookies.append(cookie)
        mime = headers.get("content-type") or "x-unknown"
        cap = self.resp_capture
        if cap is None:
            content = HarContent(0, mime)
            size = 0
        else:
            text, encoding, comment = _body_text(cap)
            content = HarContent(cap.total, mime, text, encoding, comment)
            size = cap.total
        return HarResponse(
            status=int(response.status),
            status_text=response.status.reason_phrase,
            http_version=str(response.version),
            content=content,
            headers=self.recorder._headers(headers),
            cookies=cookies,
            redirect_url=headers.get("location") or "",
            body_size=size,
        )


class HarRecorderService:
    """A ``Service[Request, Response]`` that records each exchange of its inner service.

    Bodies are not buffered: in-memory bodies are recorded as they are, streams are teed
    (the first ``max_body`` bytes kept) while they flow. An entry is added to the recorder
    once the response body was read to its end (or dropped, or failed: the entry then
    carries a comment); an inner service that raises gives an entry with status ``0``.
    """

    __slots__ = ("_inner", "_recorder")

    def __init__(self, inner: Service[Request, Response], recorder: HarRecorder) -> None:
        """Record *inner*'s exchanges into *recorder*."""
        self._inner = inner
        self._recorder = recorder

    @property
    def inner(self) -> Service[Request, Response]:
        """The wrapped service."""
        return self._inner

    @property
    def recorder(self) -> HarRecorder:
        """Where entries go."""
        return self._recorder

    async def serve(self, request: Request, /) -> Response:
        """Serve *request* with the inner service, recording the exchange."""
        rec = self._recorder
        ex = _Exchange(rec, request)
        body = request.body
        if not body.is_consumed:
            data = body.try_take_bytes() if body.is_in_memory else None
            if data is not None:
                trailers = body.trailers
                ex.req_capture = _Capture(rec.max_body)
                ex.req_capture.add(data)
                request.body = Body.from_bytes(data, trailers=trailers)
            else:
                tee = _Tee(body, rec.max_body, ex.request_ended)
                ex.req_capture = tee.capture
                request.body = Body.from_iter(tee, size_hint=body.size_hint, trailers=tee.trailers)
        try:
            response = await self._inner.serve(request)
        except BaseException as exc:
            ex.t_head = asyncio.get_running_loop().time()
            ex.finish(exc)
            raise
        ex.t_head = asyncio.get_running_loop().time()
        ex.response = response
        rbody = response.body
        data = rbody.try_take_bytes() if rbody.is_in_memory and not rbody.is_consumed else None
        if data is not None:
            trailers = rbody.trailers
            ex.resp_capture = _Capture(rec.max_body)
            ex.resp_capture.add(data)
            response.body = Body.from_bytes(data, trailers=trailers)
            ex.finish()
            return response
        tee = _Tee(rbody, rec.max_body, ex.finish)
        ex.resp_capture = tee.capture
        response.body = Body.from_iter(tee, size_hint=rbody.size_hint, trailers=tee.trailers)
        return response

    async def close(self) -> None:
        """Close the inner service when it has a ``close()`` (a pooled client)."""
        close = getattr(self._inner, "close", None)
        if callable(close):
            result = close()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result

    def __repr__(self) -> str:
        return f"HarRecorderService({self._inner!r})"


class HarRecorderLayer:
    """Layer: wrap a client- or proxy-side ``Service[Request, Response]`` in a recorder.

    ``HarRecorderLayer(recorder).layer(EasyHttpWebClient())``; then
    ``recorder.write("out.har")``. Without *recorder* a new :class:`HarRecorder` is made
    from the keyword settings (see :attr:`recorder`).
    """

    __slots__ = ("_recorder",)

    def __init__(self, recorder: HarRecorder | None = None, **settings: Any) -> None:
        """Record into *recorder* (or a new ``HarRecorder(**settings)``)."""
        if recorder is not None and settings:
            raise ValueError("give a recorder or its settings, not both")
        self._recorder = recorder if recorder is not None else HarRecorder(**settings)

    @property
    def recorder(self) -> HarRecorder:
        """The recorder the wrapped services write to."""
        return self._recorder

    def layer(self, inner: Service[Request, Response]) -> HarRecorderService:
        """Wrap *inner*."""
        return HarRecorderService(inner, self._recorder)

    def __repr__(self) -> str:
        return f"HarRecorderLayer({self._recorder!r})"
