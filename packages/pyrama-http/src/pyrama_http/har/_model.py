"""The HAR 1.2 data model: dataclasses that write and read (validating) HAR JSON."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from pyrama_core.errors import PyramaError

__all__ = [
    "HAR_VERSION",
    "HarContent",
    "HarCookie",
    "HarCreator",
    "HarEntry",
    "HarError",
    "HarLog",
    "HarNameValue",
    "HarPage",
    "HarPostData",
    "HarRequest",
    "HarResponse",
    "HarTimings",
    "HarValidationError",
    "load_har",
    "validate_har",
]

HAR_VERSION: Final = "1.2"
"""The HAR format version written."""

T = TypeVar("T")
_NUM: Final = (int, float)


class HarError(PyramaError):
    """Root of the HAR errors (a HAR file that cannot be written or read)."""


class HarValidationError(HarError, ValueError):
    """A document is not valid HAR 1.2; :attr:`path` is where (``log.entries[0].time``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HarValidationError(path, f"must be an object, got {type(value).__name__}")
    return value


def _get(d: dict[str, Any], key: str, types: Any, path: str, *, required: bool = True) -> Any:
    if key not in d:
        if required:
            raise HarValidationError(f"{path}.{key}", "is required")
        return None
    value = d[key]
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in _tuple(types))
    if not ok:
        names = "/".join(t.__name__ for t in _tuple(types))
        raise HarValidationError(f"{path}.{key}", f"must be {names}, got {type(value).__name__}")
    return value


def _tuple(types: Any) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _list(d: dict[str, Any], key: str, path: str, *, required: bool = True) -> list[Any] | None:
    value = _get(d, key, list, path, required=required)
    return None if value is None else list(value)


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


@dataclass(slots=True)
class HarNameValue:
    """A header field or query parameter: ``name`` and ``value``."""

    name: str
    """The name."""
    value: str
    """The value."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        return {"name": self.name, "value": self.value}

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarNameValue:
        """Read and validate a HAR name/value object."""
        d = _obj(value, path)
        return cls(_get(d, "name", str, path), _get(d, "value", str, path))


@dataclass(slots=True)
class HarCookie:
    """A cookie of a request (``Cookie``) or a response (``Set-Cookie``)."""

    name: str
    """The cookie name."""
    value: str
    """The cookie value."""
    path: str | None = None
    """``Path`` attribute."""
    domain: str | None = None
    """``Domain`` attribute."""
    expires: str | None = None
    """``Expires`` attribute (as sent)."""
    http_only: bool | None = None
    """``HttpOnly`` attribute."""
    secure: bool | None = None
    """``Secure`` attribute."""
    same_site: str | None = None
    """``SameSite`` attribute (written as ``sameSite``, as browsers do)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        out: dict[str, Any] = {"name": self.name, "value": self.value}
        _put(out, "path", self.path)
        _put(out, "domain", self.domain)
        _put(out, "expires", self.expires)
        _put(out, "httpOnly", self.http_only)
        _put(out, "secure", self.secure)
        _put(out, "sameSite", self.same_site)
        return out

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarCookie:
        """Read and validate a HAR cookie object."""
        d = _obj(value, path)
        return cls(
            _get(d, "name", str, path),
            _get(d, "value", str, path),
            _get(d, "path", str, path, required=False),
            _get(d, "domain", str, path, required=False),
            _get(d, "expires", str, path, required=False),
            _get(d, "httpOnly", bool, path, required=False),
            _get(d, "secure", bool, path, required=False),
            _get(d, "sameSite", str, path, required=False),
        )


@dataclass(slots=True)
class HarPostData:
    """A request body: ``mimeType`` and ``text`` (``params`` for forms, optional)."""

    mime_type: str
    """The body's content type."""
    text: str
    """The body (base64 when :attr:`encoding` says so)."""
    encoding: str | None = None
    """``"base64"`` for a binary body (an extension many tools read, like content's)."""
    params: list[HarNameValue] = field(default_factory=list)
    """URL-encoded form parameters, if the body is a form."""
    comment: str | None = None
    """A note (a truncated body says so here)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        out: dict[str, Any] = {"mimeType": self.mime_type, "text": self.text}
        if self.params:
            out["params"] = [p.to_dict() for p in self.params]
        _put(out, "encoding", self.encoding)
        _put(out, "comment", self.comment)
        return out

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarPostData:
        """Read and validate a HAR postData object."""
        d = _obj(value, path)
        params = _list(d, "params", path, required=False) or []
        return cls(
            _get(d, "mimeType", str, path),
            _get(d, "text", str, path, required=False) or "",
            _get(d, "encoding", str, path, required=False),
            [HarNameValue.from_dict(p, f"{path}.params[{i}]") for i, p in enumerate(params)],
            _get(d, "comment", str, path, required=False),
        )


@dataclass(slots=True)
class HarContent:
    """A response body: ``size``, ``mimeType`` and (when recorded) ``text``."""

    size: int
    """The body's length in bytes (decoded)."""
    mime_type: str
    """The content type."""
    text: str | None = None
    """The body (base64 when :attr:`encoding` says so); ``None`` if not recorded."""
    encoding: str | None = None
    """``"base64"`` for a binary body."""
    comment: str | None = None
    """A note (a truncated body says so here)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        out: dict[str, Any] = {"size": self.size, "mimeType": self.mime_type}
        _put(out, "text", self.text)
        _put(out, "encoding", self.encoding)
        _put(out, "comment", self.comment)
        return out

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarContent:
        """Read and validate a HAR content object."""
        d = _obj(value, path)
        return cls(
            _get(d, "size", int, path),
            _get(d, "mimeType", str, path),
            _get(d, "text", str, path, required=False),
            _get(d, "encoding", str, path, required=False),
            _get(d, "comment", str, path, required=False),
        )


def _pairs(d: dict[str, Any], key: str, path: str) -> list[HarNameValue]:
    items = _list(d, key, path) or []
    return [HarNameValue.from_dict(x, f"{path}.{key}[{i}]") for i, x in enumerate(items)]


def _cookies(d: dict[str, Any], path: str) -> list[HarCookie]:
    items = _list(d, "cookies", path) or []
    return [HarCookie.from_dict(x, f"{path}.cookies[{i}]") for i, x in enumerate(items)]


@dataclass(slots=True)
class HarRequest:
    """The request of an entry."""

    method: str
    """The method."""
    url: str
    """The absolute URL."""
    http_version: str
    """``HTTP/1.1``, ``HTTP/2``, ..."""
    headers: list[HarNameValue] = field(default_factory=list)
    """The header fields, in order, with their case."""
    query_string: list[HarNameValue] = field(default_factory=list)
    """The query parameters (decoded)."""
    cookies: list[HarCookie] = field(default_factory=list)
    """The cookies of the ``Cookie`` field."""
    post_data: HarPostData | None = None
    """The body, if there was one."""
    headers_size: int = -1
    """Bytes of the head on the wire (``-1``: unknown)."""
    body_size: int = -1
    """Bytes of the body (``-1``: unknown)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        out: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "httpVersion": self.http_version,
            "cookies": [c.to_dict() for c in self.cookies],
            "headers": [h.to_dict() for h in self.headers],
            "queryString": [q.to_dict() for q in self.query_string],
            "headersSize": self.headers_size,
            "bodySize": self.body_size,
        }
        if self.post_data is not None:
            out["postData"] = self.post_data.to_dict()
        return out

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarRequest:
        """Read and validate a HAR request object."""
        d = _obj(value, path)
        post = d.get("postData")
        return cls(
            _get(d, "method", str, path),
            _get(d, "url", str, path),
            _get(d, "httpVersion", str, path),
            _pairs(d, "headers", path),
            _pairs(d, "queryString", path),
            _cookies(d, path),
            None if post is None else HarPostData.from_dict(post, f"{path}.postData"),
            _get(d, "headersSize", int, path),
            _get(d, "bodySize", int, path),
        )


@dataclass(slots=True)
class HarResponse:
    """The response of an entry."""

    status: int
    """The status code."""
    status_text: str
    """The reason phrase."""
    http_version: str
    """``HTTP/1.1``, ``HTTP/2``, ..."""
    content: HarContent
    """The body."""
    headers: list[HarNameValue] = field(default_factory=list)
    """The header fields, in order, with their case."""
    cookies: list[HarCookie] = field(default_factory=list)
    """The cookies of the ``Set-Cookie`` fields."""
    redirect_url: str = ""
    """The ``Location`` field, if any."""
    headers_size: int = -1
    """Bytes of the head on the wire (``-1``: unknown)."""
    body_size: int = -1
    """Bytes of the body as received (``-1``: unknown)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        return {
            "status": self.status,
            "statusText": self.status_text,
            "httpVersion": self.http_version,
            "cookies": [c.to_dict() for c in self.cookies],
            "headers": [h.to_dict() for h in self.headers],
            "content": self.content.to_dict(),
            "redirectURL": self.redirect_url,
            "headersSize": self.headers_size,
            "bodySize": self.body_size,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarResponse:
        """Read and validate a HAR response object."""
        d = _obj(value, path)
        return cls(
            _get(d, "status", int, path),
            _get(d, "statusText", str, path),
            _get(d, "httpVersion", str, path),
            HarContent.from_dict(_get(d, "content", dict, path), f"{path}.content"),
            _pairs(d, "headers", path),
            _cookies(d, path),
            _get(d, "redirectURL", str, path),
            _get(d, "headersSize", int, path),
            _get(d, "bodySize", int, path),
        )


@dataclass(slots=True)
class HarTimings:
    """Phases of an exchange in milliseconds (``-1``: not applicable)."""

    send: float
    """Sending the request (its body read by the client)."""
    wait: float
    """Waiting for the response head."""
    receive: float
    """Reading the response body."""
    blocked: float = -1
    """Waiting for a connection."""
    dns: float = -1
    """Resolving the host."""
    connect: float = -1
    """Connecting (TCP and TLS)."""
    ssl: float = -1
    """The TLS handshake (part of connect)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        return {
            "blocked": self.blocked,
            "dns": self.dns,
            "connect": self.connect,
            "send": self.send,
            "wait": self.wait,
            "receive": self.receive,
            "ssl": self.ssl,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarTimings:
        """Read and validate a HAR timings object."""
        d = _obj(value, path)
        opt = {k: _get(d, k, _NUM, path, required=False) for k in ("blocked", "dns", "connect")}
        ssl = _get(d, "ssl", _NUM, path, required=False)
        return cls(
            _get(d, "send", _NUM, path),
            _get(d, "wait", _NUM, path),
            _get(d, "receive", _NUM, path),
            -1 if opt["blocked"] is None else opt["blocked"],
            -1 if opt["dns"] is None else opt["dns"],
            -1 if opt["connect"] is None else opt["connect"],
            -1 if ssl is None else ssl,
        )


@dataclass(slots=True)
class HarEntry:
    """One exchange: request, response, timings."""

    started_date_time: str
    """When the request started (ISO 8601 with offset)."""
    time: float
    """Total milliseconds (send + wait + receive)."""
    request: HarRequest
    """The request."""
    response: HarResponse
    """The response."""
    timings: HarTimings
    """The phases."""
    server_ip_address: str | None = None
    """The server's IP address, if known."""
    connection: str | None = None
    """An id of the connection (the local port), if known."""
    pageref: str | None = None
    """The page this belongs to."""
    comment: str | None = None
    """A note (an exchange that failed says why)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        out: dict[str, Any] = {
            "startedDateTime": self.started_date_time,
            "time": self.time,
            "request": self.request.to_dict(),
            "response": self.response.to_dict(),
            "cache": {},
            "timings": self.timings.to_dict(),
        }
        _put(out, "serverIPAddress", self.server_ip_address)
        _put(out, "connection", self.connection)
        _put(out, "pageref", self.pageref)
        _put(out, "comment", self.comment)
        return out

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarEntry:
        """Read and validate a HAR entry object."""
        d = _obj(value, path)
        _get(d, "cache", dict, path)
        return cls(
            _get(d, "startedDateTime", str, path),
            _get(d, "time", _NUM, path),
            HarRequest.from_dict(_get(d, "request", dict, path), f"{path}.request"),
            HarResponse.from_dict(_get(d, "response", dict, path), f"{path}.response"),
            HarTimings.from_dict(_get(d, "timings", dict, path), f"{path}.timings"),
            _get(d, "serverIPAddress", str, path, required=False),
            _get(d, "connection", str, path, required=False),
            _get(d, "pageref", str, path, required=False),
            _get(d, "comment", str, path, required=False),
        )


@dataclass(slots=True)
class HarPage:
    """A page that groups entries."""

    id: str
    """The page id entries refer to (``pageref``)."""
    title: str
    """The page title."""
    started_date_time: str
    """When the page started (ISO 8601)."""
    on_content_load: float = -1
    """``pageTimings.onContentLoad`` in ms (``-1``: unknown)."""
    on_load: float = -1
    """``pageTimings.onLoad`` in ms (``-1``: unknown)."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        return {
            "startedDateTime": self.started_date_time,
            "id": self.id,
            "title": self.title,
            "pageTimings": {"onContentLoad": self.on_content_load, "onLoad": self.on_load},
        }

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarPage:
        """Read and validate a HAR page object."""
        d = _obj(value, path)
        timings = _obj(_get(d, "pageTimings", dict, path), f"{path}.pageTimings")
        tpath = f"{path}.pageTimings"
        ocl = _get(timings, "onContentLoad", _NUM, tpath, required=False)
        ol = _get(timings, "onLoad", _NUM, tpath, required=False)
        return cls(
            _get(d, "id", str, path),
            _get(d, "title", str, path),
            _get(d, "startedDateTime", str, path),
            -1 if ocl is None else ocl,
            -1 if ol is None else ol,
        )


@dataclass(slots=True)
class HarCreator:
    """The ``creator`` (or ``browser``) of a log: name and version."""

    name: str
    """The application name."""
    version: str
    """Its version."""

    def to_dict(self) -> dict[str, Any]:
        """The HAR JSON object."""
        return {"name": self.name, "version": self.version}

    @classmethod
    def from_dict(cls, value: Any, path: str) -> HarCreator:
        """Read and validate a HAR creator/browser object."""
        d = _obj(value, path)
        return cls(_get(d, "name", str, path), _get(d, "version", str, path))


@dataclass(slots=True)
class HarLog:
    """A HAR log: creator, optional browser and pages, and the entries.

    :meth:`dumps`/:meth:`write` produce ``{"log": {...}}`` JSON (``write`` replaces the file
    atomically); :meth:`loads`/:func:`load_har` read it back and validate it against HAR 1.2
    (required fields and their types), raising :class:`HarValidationError`.
    """

    creator: HarCreator = field(default_factory=lambda: HarCreator("pyrama", "0.1.0"))
    """Who wrote the log."""
    entries: list[HarEntry] = field(default_factory=list)
    """The exchanges, in the order they started."""
    browser: HarCreator | None = None
    """The browser, if any."""
    pages: list[HarPage] = field(default_factory=list)
    """Pages, if any."""
    version: str = HAR_VERSION
    """The HAR version."""
    comment: str | None = None
    """A note."""

    def to_dict(self) -> dict[str, Any]:
        """The whole HAR document (``{"log": {...}}``)."""
        log: dict[str, Any] = {"version": self.version, "creator": self.creator.to_dict()}
        if self.browser is not None:
            log["browser"] = self.browser.to_dict()
        if self.pages:
            log["pages"] = [p.to_dict() for p in self.pages]
        log["entries"] = [e.to_dict() for e in self.entries]
        _put(log, "comment", self.comment)
        return {"log": log}

    def dumps(self, *, indent: int | None = 2) -> str:
        """The HAR JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the log to *path* atomically (a temporary file, then a rename)."""
        target = Path(path)
        text = self.dumps().encode("utf-8")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise HarError(f"cannot write the HAR file {str(target)!r}: {exc}") from exc

    @classmethod
    def from_dict(cls, doc: Any) -> HarLog:
        """Validate a HAR document (``{"log": {...}}``) and read it into the model."""
        top = _obj(doc, "$")
        log = _obj(_get(top, "log", dict, "$"), "log")
        version = _get(log, "version", str, "log")
        creator = HarCreator.from_dict(_get(log, "creator", dict, "log"), "log.creator")
        browser = log.get("browser")
        pages = _list(log, "pages", "log", required=False) or []
        entries = _list(log, "entries", "log") or []
        page_ids = set()
        parsed_pages = []
        for i, p in enumerate(pages):
            page = HarPage.from_dict(p, f"log.pages[{i}]")
            page_ids.add(page.id)
            parsed_pages.append(page)
        parsed_entries = []
        for i, e in enumerate(entries):
            entry = HarEntry.from_dict(e, f"log.entries[{i}]")
            if entry.pageref is not None and entry.pageref not in page_ids:
                raise HarValidationError(f"log.entries[{i}].pageref", "names no page")
            parsed_entries.append(entry)
        return cls(
            creator,
            parsed_entries,
            None if browser is None else HarCreator.from_dict(browser, "log.browser"),
            parsed_pages,
            version,
            _get(log, "comment", str, "log", required=False),
        )

    @classmethod
    def loads(cls, text: str | bytes) -> HarLog:
        """Parse and validate HAR JSON text."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise HarValidationError("$", f"not JSON: {exc}") from exc
        return cls.from_dict(doc)


def load_har(path: str | os.PathLike[str]) -> HarLog:
    """Read the HAR file at *path*, validate it (HAR 1.2) and return the model."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HarError(f"cannot read the HAR file {str(path)!r}: {exc}") from exc
    return HarLog.loads(data)


def validate_har(doc: Any) -> None:
    """Raise :class:`HarValidationError` unless *doc* (parsed JSON) is a valid HAR 1.2 log."""
    HarLog.from_dict(doc)
