"""Typed headers: parse and format the common header fields.

Every class here follows :class:`~pyrama_http_types.TypedHeader`: a class attribute ``name``,
a ``decode(values)`` class method that builds the value from every field line of that name,
and ``encode()`` giving the value to write. Use them with
:meth:`HeaderMap.typed_get <pyrama_http_types.HeaderMap.typed_get>` and
:meth:`HeaderMap.typed_insert <pyrama_http_types.HeaderMap.typed_insert>`. Invalid values raise
:class:`~pyrama_http_types.errors.TypedHeaderError` (status hint 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Self

from pyrama_http_types.errors import TypedHeaderError
from pyrama_net import Basic, Bearer, Host
from pyrama_net.errors import AddressError

__all__ = [
    "Accept",
    "AcceptEncoding",
    "AcceptLanguage",
    "Authorization",
    "Connection",
    "ContentEncoding",
    "ContentLength",
    "ContentType",
    "Cookie",
    "Date",
    "HostHeader",
    "IfModifiedSince",
    "LastModified",
    "Location",
    "MimeType",
    "ProxyAuthorization",
    "QualityValue",
    "Referer",
    "Server",
    "SetCookie",
    "TransferEncoding",
    "Upgrade",
    "UserAgent",
    "Via",
    "format_http_date",
    "parse_http_date",
]

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_CONTENT_LENGTH_DIGITS = 19


def _err(name: str, message: str) -> TypedHeaderError:
    return TypedHeaderError(f"invalid {name} header: {message}")


def _single(name: str, values: list[str]) -> str:
    """The one value of a singleton header (identical repeats are tolerated)."""
    if not values:
        raise _err(name, "no value")
    first = values[0]
    for other in values[1:]:
        if other != first:
            raise _err(name, "more than one different value")
    return first


def _check_text(name: str, value: str) -> str:
    m = _CTL_RE.search(value)
    if m is not None:
        raise _err(name, f"control character {m.group()!r}")
    return value


def split_list(values: list[str]) -> list[str]:
    """Split comma-separated list values (RFC 9110 5.6.1), keeping quoted strings whole.

    Empty elements are dropped and each element is stripped of spaces and tabs.
    """
    out: list[str] = []
    for value in values:
        if '"' not in value:
            out.extend(e for e in (p.strip(" \t") for p in value.split(",")) if e)
            continue
        start = 0
        in_quotes = False
        escaped = False
        for i, c in enumerate(value):
            if escaped:
                escaped = False
            elif in_quotes and c == "\\":
                escaped = True
            elif c == '"':
                in_quotes = not in_quotes
            elif c == "," and not in_quotes:
                element = value[start:i].strip(" \t")
                if element:
                    out.append(element)
                start = i + 1
        element = value[start:].strip(" \t")
        if element:
            out.append(element)
    return out


def _tokens(name: str, values: list[str], *, lower: bool) -> tuple[str, ...]:
    items = split_list(values)
    for item in items:
        if _TOKEN_RE.fullmatch(item) is None:
            raise _err(name, f"{item!r} is not a token")
    return tuple(i.lower() for i in items) if lower else tuple(items)


def _quote(value: str) -> str:
    if _TOKEN_RE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        out: list[str] = []
        escaped = False
        for c in inner:
            if escaped:
                out.append(c)
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                raise ValueError("unescaped '\"' inside a quoted string")
            else:
                out.append(c)
        if escaped:
            raise ValueError("a quoted string ends with a lone backslash")
        return "".join(out)
    return value


def _split_params(text: str) -> list[str]:
    """Split ``a; b="x;y"; c`` at semicolons outside quoted strings."""
    parts: list[str] = []
    start = 0
    in_quotes = False
    escaped = False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif in_quotes and c == "\\":
            escaped = True
        elif c == '"':
            in_quotes = not in_quotes
        elif c == ";" and not in_quotes:
            parts.append(text[start:i])
            start = i + 1
    if in_quotes:
        raise ValueError("unterminated quoted string")
    parts.append(text[start:])
    return parts


# -- simple text headers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TextHeader:
    value: str

    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        _check_text(self.name, self.value)

    @classmethod
    def decode(cls, values: list[str]) -> Self:
        """The single value (identical repeats tolerated)."""
        return cls(_single(cls.name, values))

    def encode(self) -> str:
        """The value as written."""
        return self.value

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class UserAgent(_TextHeader):
    """``User-Agent``: the client's product tokens, kept as text."""

    name: ClassVar[str] = "User-Agent"


@dataclass(frozen=True, slots=True)
class Server(_TextHeader):
    """``Server``: the origin server's product tokens, kept as text."""

    name: ClassVar[str] = "Server"


@dataclass(frozen=True, slots=True)
class Location(_TextHeader):
    """``Location``: a URI reference (may be relative), kept as text."""

    name: ClassVar[str] = "Location"

    def __post_init__(self) -> None:
        _check_text(self.name, self.value)
        if not self.value or any(c in self.value for c in " \t"):
            raise _err(self.name, "a URI reference is non-empty and has no spaces")


@dataclass(frozen=True, slots=True)
class Referer(Location):
    """``Referer``: the URI of the referring resource, kept as text."""

    name: ClassVar[str] = "Referer"


# -- Content-Length ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContentLength:
    """``Content-Length``: a non-negative byte count.

    Decoding is strict: ASCII digits only (at most 19); several values, or a list like
    ``5, 5``, are accepted only when all are equal (RFC 9110 8.6), since differing lengths are
    a request smuggling vector.
    """

    value: int
    """The length in bytes."""

    name: ClassVar[str] = "Content-Length"

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise _err(self.name, f"{self.value!r} is not a non-negative integer")

    @classmethod
    def decode(cls, values: list[str]) -> ContentLength:
        """Parse every value; all must be the same number."""
        found: int | None = None
        for item in split_list(values) if values else []:
            if not item.isascii() or not item.isdigit():
                raise _err(cls.name, f"{item[:40]!r} is not a decimal number")
            if len(item) > _MAX_CONTENT_LENGTH_DIGITS:
                raise _err(cls.name, f"more than {_MAX_CONTENT_LENGTH_DIGITS} digits")
            n = int(item)
            if found is not None and n != found:
                raise _err(cls.name, "different lengths")
            found = n
        if found is None:
            raise _err(cls.name, "empty")
        return cls(found)

    def encode(self) -> str:
        """The decimal length."""
        return str(self.value)

    def __int__(self) -> int:
        return self.value


# -- Content-Type / MimeType ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MimeType:
    """A media type such as ``text/html; charset=utf-8`` (RFC 9110 8.3.1).

    Type, subtype and parameter names are lowercased; parameter values keep their case (and
    are unquoted). ``str()`` gives the canonical form, quoting values that need it.
    """

    type: str
    """The top-level type (``text``)."""
    subtype: str
    """The subtype (``html``)."""
    params: tuple[tuple[str, str], ...] = ()
    """Parameters in order, as (lowercase name, value)."""

    def __post_init__(self) -> None:
        for part in (self.type, self.subtype):
            if _TOKEN_RE.fullmatch(part) is None:
                raise ValueError(f"invalid media type part {part!r}")
        object.__setattr__(self, "type", self.type.lower())
        object.__setattr__(self, "subtype", self.subtype.lower())
        params = []
        for pname, pvalue in self.params:
            if _TOKEN_RE.fullmatch(pname) is None:
                raise ValueError(f"invalid media type parameter name {pname!r}")
            if _CTL_RE.search(pvalue):
                raise ValueError("control character in a media type parameter")
            params.append((pname.lower(), pvalue))
        object.__setattr__(self, "params", tuple(params))

    @classmethod
    def parse(cls, text: str) -> MimeType:
        """Parse ``type/subtype *(; name=value)``; raise ``ValueError`` if malformed."""
        pieces = _split_params(text)
        essence = pieces[0].strip(" \t")
        mtype, slash, subtype = essence.partition("/")
        if not slash:
            raise ValueError(f"media type {essence!r} has no '/'")
        params: list[tuple[str, str]] = []
        for piece in pieces[1:]:
            piece = piece.strip(" \t")
            if not piece:
                continue
            pname, eq, pvalue = piece.partition("=")
            if not eq:
                raise ValueError(f"media type parameter {piece!r} has no '='")
            params.append((pname, _unquote(pvalue)))
        return cls(mtype, subtype, tuple(params))

    @property
    def essence(self) -> str:
        """``type/subtype`` without parameters."""
        return f"{self.type}/{self.subtype}"

    def param(self, name: str) -> str | None:
        """The value of parameter *name* (case-insensitive), or ``None``."""
        low = name.lower()
        for pname, pvalue in self.params:
            if pname == low:
                return pvalue
        return None

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter, lowercased, or ``None``."""
        c = self.param("charset")
        return None if c is None else c.lower()

    def matches(self, essence: str) -> bool:
        """Whether :attr:`essence` equals *essence* (case-insensitive; ``*`` wildcards allowed).

        ``text/*`` and ``*/*`` match any subtype or type.
        """
        want_type, _, want_sub = essence.lower().partition("/")
        return (want_type in ("*", self.type)) and (want_sub in ("*", self.subtype))

    @property
    def is_json(self) -> bool:
        """``application/json`` or any ``+json`` subtype."""
        return self.essence == "application/json" or self.subtype.endswith("+json")

    def __str__(self) -> str:
        params = "".join(f"; {n}={_quote(v)}" for n, v in self.params)
        return f"{self.type}/{self.subtype}{params}"


@dataclass(frozen=True, slots=True)
class ContentType:
    """``Content-Type``: a :class:`MimeType`."""

    mime: MimeType
    """The media type."""

    name: ClassVar[str] = "Content-Type"

    @classmethod
    def decode(cls, values: list[str]) -> ContentType:
        """Parse the single value."""
        text = _single(cls.name, values)
        try:
            return cls(MimeType.parse(text))
        except ValueError as exc:
            raise _err(cls.name, str(exc)) from exc

    @classmethod
    def parse(cls, text: str) -> ContentType:
        """Parse a media type text."""
        return cls.decode([text])

    def encode(self) -> str:
        """The canonical media type text."""
        return str(self.mime)

    @classmethod
    def json(cls) -> ContentType:
        """``application/json``."""
        return cls(MimeType("application", "json"))

    @classmethod
    def text_utf8(cls) -> ContentType:
        """``text/plain; charset=utf-8``."""
        return cls(MimeType("text", "plain", (("charset", "utf-8"),)))

    @classmethod
    def html_utf8(cls) -> ContentType:
        """``text/html; charset=utf-8``."""
        return cls(MimeType("text", "html", (("charset", "utf-8"),)))

    @classmethod
    def form_url_encoded(cls) -> ContentType:
        """``application/x-www-form-urlencoded``."""
        return cls(MimeType("application", "x-www-form-urlencoded"))

    @classmethod
    def octet_stream(cls) -> ContentType:
        """``application/octet-stream``."""
        return cls(MimeType("application", "octet-stream"))

    @classmethod
    def event_stream(cls) -> ContentType:
        """``text/event-stream`` (server-sent events)."""
        return cls(MimeType("text", "event-stream"))


# -- Host ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostHeader:
    """``Host``: a :class:`~pyrama_net.Host` and an optional port.

    Named ``HostHeader`` so it does not shadow :class:`pyrama_net.Host`. More than one
    different Host value is an error (RFC 9112 3.2).
    """

    host: Host
    """The host."""
    port: int | None = None
    """The port, if given."""

    name: ClassVar[str] = "Host"

    @classmethod
    def decode(cls, values: list[str]) -> HostHeader:
        """Parse ``host[:port]``."""
        text = _single(cls.name, values)
        return cls.parse(text)

    @classmethod
    def parse(cls, text: str) -> HostHeader:
        """Parse ``host[:port]`` (IPv6 in brackets)."""
        if not text:
            raise _err(cls.name, "empty")
        host_text = text
        port: int | None = None
        if text.startswith("["):
            close = text.find("]")
            if close < 0:
                raise _err(cls.name, "'[' without ']'")
            host_text, rest = text[: close + 1], text[close + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise _err(cls.name, "junk after the IPv6 address")
                port = cls._port(rest[1:])
        elif ":" in text:
            host_text, _, port_text = text.rpartition(":")
            port = cls._port(port_text)
        try:
            host = Host.parse(host_text)
        except AddressError as exc:
            raise _err(cls.name, str(exc)) from exc
        return cls(host, port)

    @classmethod
    def _port(cls, text: str) -> int:
        if not text.isascii() or not text.isdigit() or len(text) > 5 or int(text) > 65535:
            raise _err(cls.name, f"invalid port {text!r}")
        return int(text)

    def encode(self) -> str:
        """``host[:port]``."""
        h = self.host.to_uri_str()
        return h if self.port is None else f"{h}:{self.port}"


# -- token lists --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connection:
    """``Connection``: connection options (lowercased tokens, order kept)."""

    options: tuple[str, ...]
    """The options, lowercase."""

    name: ClassVar[str] = "Connection"

    @classmethod
    def decode(cls, values: list[str]) -> Connection:
        """Parse every value's comma-separated tokens."""
        return cls(_tokens(cls.name, values, lower=True))

    def encode(self) -> str:
        """``a, b``."""
        return ", ".join(self.options)

    def has(self, option: str) -> bool:
        """Whether *option* (case-insensitive) is present."""
        return option.lower() in self.options

    @property
    def is_close(self) -> bool:
        """``close`` is present."""
        return "close" in self.options

    @property
    def is_keep_alive(self) -> bool:
        """``keep-alive`` is present."""
        return "keep-alive" in self.options

    @property
    def is_upgrade(self) -> bool:
        """``upgrade`` is present."""
        return "upgrade" in self.options

    @classmethod
    def close(cls) -> Connection:
        """``Connection: close``."""
        return cls(("close",))

    @classmethod
    def keep_alive(cls) -> Connection:
        """``Connection: keep-alive``."""
        return cls(("keep-alive",))

    @classmethod
    def upgrade(cls) -> Connection:
        """``Connection: upgrade``."""
        return cls(("upgrade",))


@dataclass(frozen=True, slots=True)
class TransferEncoding:
    """``Transfer-Encoding``: transfer codings in the order applied (lowercased).

    Coding parameters are not supported (none are registered for the codings in use); a
    value with parameters is refused.
    """

    codings: tuple[str, ...]
    """The codings, lowercase, first applied first."""

    name: ClassVar[str] = "Transfer-Encoding"

    @classmethod
    def decode(cls, values: list[str]) -> TransferEncoding:
        """Parse every value's comma-separated codings."""
        codings = _tokens(cls.name, values, lower=True)
        if not codings:
            raise _err(cls.name, "empty")
        return cls(codings)

    def encode(self) -> str:
        """``gzip, chunked``."""
        return ", ".join(self.codings)

    @property
    def is_chunked(self) -> bool:
        """Whether the final coding is ``chunked`` (the framing HTTP/1.1 requires)."""
        return bool(self.codings) and self.codings[-1] == "chunked"

    @classmethod
    def chunked(cls) -> TransferEncoding:
        """``Transfer-Encoding: chunked``."""
        return cls(("chunked",))


@dataclass(frozen=True, slots=True)
class ContentEncoding:
    """``Content-Encoding``: content codings in the order applied (lowercased)."""

    codings: tuple[str, ...]
    """The codings, lowercase."""

    name: ClassVar[str] = "Content-Encoding"

    @classmethod
    def decode(cls, values: list[str]) -> ContentEncoding:
        """Parse every value's comma-separated codings."""
        return cls(_tokens(cls.name, values, lower=True))

    def encode(self) -> str:
        """``gzip, br``."""
        return ", ".join(self.codings)


_PROTOCOL_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?")


@dataclass(frozen=True, slots=True)
class Upgrade:
    """``Upgrade``: protocols (``name[/version]``), case kept, order of preference kept."""

    protocols: tuple[str, ...]
    """The protocols as written."""

    name: ClassVar[str] = "Upgrade"

    @classmethod
    def decode(cls, values: list[str]) -> Upgrade:
        """Parse every value's comma-separated protocols."""
        items = split_list(values)
        for item in items:
            if _PROTOCOL_RE.fullmatch(item) is None:
                raise _err(cls.name, f"{item!r} is not a protocol")
        return cls(tuple(items))

    def encode(self) -> str:
        """``websocket`` / ``h2c``."""
        return ", ".join(self.protocols)

    def has(self, protocol: str) -> bool:
        """Whether *protocol* is offered (names compare case-insensitively)."""
        low = protocol.lower()
        return any(p.lower() == low for p in self.protocols)

    @classmethod
    def websocket(cls) -> Upgrade:
        """``Upgrade: websocket``."""
        return cls(("websocket",))


@dataclass(frozen=True, slots=True)
class Via:
    """``Via``: one entry per intermediary (``1.1 proxy.example``), as written."""

    entries: tuple[str, ...]
    """The entries in order (the first is the closest to the sender)."""

    name: ClassVar[str] = "Via"

    @classmethod
    def decode(cls, values: list[str]) -> Via:
        """Parse every value's comma-separated entries."""
        entries = split_list(values)
        for e in entries:
            _check_text(cls.name, e)
        return cls(tuple(entries))

    def encode(self) -> str:
        """``1.1 a, 1.1 b``."""
        return ", ".join(self.entries)

    def with_entry(self, entry: str) -> Via:
        """A copy with *entry* appended (what a proxy adds)."""
        return Via((*self.entries, _check_text(self.name, entry)))


# -- quality lists (Accept*) ------------------------------------------------------------------

_Q_RE = re.compile(r"(0(\.[0-9]{0,3})?|1(\.0{0,3})?)")


@dataclass(frozen=True, slots=True)
class QualityValue:
    """An element of an ``Accept*`` list: a value (with any non-``q`` parameters) and its weight."""

    value: str
    """The element without its ``q`` parameter (``text/html;level=1``, ``gzip``, ``en-US``)."""
    quality: float = 1.0
    """The weight ``q``, ``0.0..1.0`` (``1.0`` when absent)."""

    def __str__(self) -> str:
        if self.quality == 1.0:
            return self.value
        q = f"{self.quality:.3f}".rstrip("0").rstrip(".")
        return f"{self.value};q={q}"


def _parse_quality_list(name: str, values: list[str]) -> tuple[QualityValue, ...]:
    out: list[QualityValue] = []
    for element in split_list(values):
        _check_text(name, element)
        try:
            pieces = _split_params(element)
        except ValueError as exc:
            raise _err(name, str(exc)) from exc
        kept = [pieces[0].strip(" \t")]
        quality = 1.0
        for piece in pieces[1:]:
            p = piece.strip(" \t")
            pname, eq, pvalue = p.partition("=")
            if eq and pname.strip(" \t").lower() == "q":
                qtext = pvalue.strip(" \t")
                if _Q_RE.fullmatch(qtext) is None:
                    raise _err(name, f"invalid weight q={qtext!r}")
                quality = float(qtext)
            elif p:
                kept.append(p)
        if not kept[0]:
            raise _err(name, f"empty element in {element!r}")
        out.append(QualityValue(";".join(kept), quality))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _QualityListHeader:
    items: tuple[QualityValue, ...]

    name: ClassVar[str] = ""

    @classmethod
    def decode(cls, values: list[str]) -> Self:
        """Parse every value's comma-separated weighted elements."""
        return cls(_parse_quality_list(cls.name, values))

    @classmethod
    def of(cls, *values: str | QualityValue) -> Self:
        """Build from elements (strings get ``q=1``)."""
        return cls(tuple(v if isinstance(v, QualityValue) else QualityValue(v) for v in values))

    def encode(self) -> str:
        """``a, b;q=0.5``."""
        return ", ".join(str(i) for i in self.items)

    def preferred(self) -> list[QualityValue]:
        """Elements with ``q > 0``, highest weight first (ties keep their order)."""
        return sorted((i for i in self.items if i.quality > 0), key=lambda i: -i.quality)


@dataclass(frozen=True, slots=True)
class Accept(_QualityListHeader):
    """``Accept``: media ranges with weights."""

    name: ClassVar[str] = "Accept"


@dataclass(frozen=True, slots=True)
class AcceptEncoding(_QualityListHeader):
    """``Accept-Encoding``: content codings with weights."""

    name: ClassVar[str] = "Accept-Encoding"


@dataclass(frozen=True, slots=True)
class AcceptLanguage(_QualityListHeader):
    """``Accept-Language``: language ranges with weights."""

    name: ClassVar[str] = "Accept-Language"


# -- credentials --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authorization:
    """``Authorization``: :class:`~pyrama_net.Basic` or :class:`~pyrama_net.Bearer` credentials.

    Other schemes are refused by :meth:`decode` (read the raw header for them).
    """

    credentials: Basic | Bearer
    """The credentials (their ``repr`` hides the secret)."""

    name: ClassVar[str] = "Authorization"

    @classmethod
    def decode(cls, values: list[str]) -> Self:
        """Parse ``Basic <base64>`` or ``Bearer <token>`` (scheme in any case)."""
        text = _single(cls.name, values)
        scheme = text.partition(" ")[0].lower()
        try:
            if scheme == "basic":
                return cls(Basic.parse_header_value(text))
            if scheme == "bearer":
                return cls(Bearer.parse_header_value(text))
        except AddressError as exc:
            raise _err(cls.name, str(exc)) from exc
        raise _err(cls.name, "only the Basic and Bearer schemes are supported")

    def encode(self) -> str:
        """``Basic ...`` / ``Bearer ...``."""
        return self.credentials.encode_header_value()


@dataclass(frozen=True, slots=True)
class ProxyAuthorization(Authorization):
    """``Proxy-Authorization``: like :class:`Authorization`, for a proxy."""

    name: ClassVar[str] = "Proxy-Authorization"


# -- cookies ------------------------------------------------------------------------------

_COOKIE_VALUE_RE = re.compile(r'"?[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"?')


@dataclass(frozen=True, slots=True)
class Cookie:
    """``Cookie``: (name, value) pairs in the order sent (RFC 6265 5.4).

    Several Cookie fields (as HTTP/2 allows) are joined. Parsing is lenient, like servers
    are: items without ``=`` or with an empty name are skipped, names are not validated beyond
    that, values are kept as sent (quotes included).
    """

    pairs: tuple[tuple[str, str], ...]
    """The cookies in order."""

    name: ClassVar[str] = "Cookie"

    @classmethod
    def decode(cls, values: list[str]) -> Cookie:
        """Parse ``a=b; c=d`` from every value."""
        pairs: list[tuple[str, str]] = []
        for value in values:
            for item in value.split(";"):
                item = item.strip(" \t")
                if not item:
                    continue
                cname, eq, cvalue = item.partition("=")
                cname = cname.strip(" \t")
                if not eq or not cname:
                    continue
                pairs.append((cname, cvalue.strip(" \t")))
        return cls(tuple(pairs))

    def encode(self) -> str:
        """``a=b; c=d``."""
        return "; ".join(f"{n}={v}" for n, v in self.pairs)

    def get(self, name: str) -> str | None:
        """The value of the first cookie called *name* (case-sensitive), or ``None``."""
        for n, v in self.pairs:
            if n == name:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of cookies called *name*."""
        return [v for n, v in self.pairs if n == name]


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One ``Set-Cookie`` field: a cookie and its attributes (RFC 6265 4.1), minimal.

    Set-Cookie fields cannot be combined: :meth:`decode` reads the first one; parse each of
    ``headers.get_all("set-cookie")`` with :meth:`parse` to see them all, and add several
    with ``headers.add("Set-Cookie", cookie.encode())`` (``typed_insert`` replaces).
    """

    cookie_name: str
    """The cookie's name."""
    value: str
    """The cookie's value (quotes kept)."""
    attributes: tuple[tuple[str, str | None], ...] = field(default=())
    """Attributes in order (``("Path", "/")``, ``("HttpOnly", None)``)."""

    name: ClassVar[str] = "Set-Cookie"

    def __post_init__(self) -> None:
        if _TOKEN_RE.fullmatch(self.cookie_name) is None:
            raise _err(self.name, f"cookie name {self.cookie_name!r} is not a token")
        if _COOKIE_VALUE_RE.fullmatch(self.value) is None:
            raise _err(self.name, "the cookie value has characters RFC 6265 does not allow")
        for aname, avalue in self.attributes:
            if not aname or any(c in aname for c in ";=") or _CTL_RE.search(aname):
                raise _err(self.name, f"invalid attribute name {aname!r}")
            if avalue is not None and (";" in avalue or _CTL_RE.search(avalue)):
                raise _err(self.name, f"invalid value for attribute {aname}")

    @classmethod
    def parse(cls, text: str) -> SetCookie:
        """Parse one Set-Cookie value."""
        pieces = text.split(";")
        cname, eq, cvalue = pieces[0].partition("=")
        if not eq:
            raise _err(cls.name, "the cookie has no '='")
        attrs: list[tuple[str, str | None]] = []
        for piece in pieces[1:]:
            piece = piece.strip(" \t")
            if not piece:
                continue
            aname, aeq, avalue = piece.partition("=")
            attrs.append((aname.strip(" \t"), avalue.strip(" \t") if aeq else None))
        return cls(cname.strip(" \t"), cvalue.strip(" \t"), tuple(attrs))

    @classmethod
    def decode(cls, values: list[str]) -> SetCookie:
        """Parse the first value (see the class docs)."""
        if not values:
            raise _err(cls.name, "no value")
        return cls.parse(values[0])

    def attribute(self, name: str) -> str | None:
        """The value of attribute *name* (case-insensitive); ``""`` for a flag; else ``None``."""
        low = name.lower()
        for aname, avalue in self.attributes:
            if aname.lower() == low:
                return "" if avalue is None else avalue
        return None

    def encode(self) -> str:
        """``name=value; Path=/; HttpOnly``."""
        attrs = "".join(f"; {n}" if v is None else f"; {n}={v}" for n, v in self.attributes)
        return f"{self.cookie_name}={self.value}{attrs}"


# -- dates --------------------------------------------------------------------------------

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IMF_RE = re.compile(
    r"([A-Z][a-z]{2}), ([0-9]{2}) ([A-Z][a-z]{2}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
_RFC850_RE = re.compile(
    r"([A-Z][a-z]{5,8}), ([0-9]{2})-([A-Z][a-z]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
_ASCTIME_RE = re.compile(
    r"([A-Z][a-z]{2}) ([A-Z][a-z]{2}) ([ 0-9][0-9]) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([0-9]{4})"
)


def format_http_date(when: datetime) -> str:
    """Format *when* as an IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``).

    A naive datetime is taken as UTC; an aware one is converted to UTC.
    """
    utc = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return (
        f"{_DAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} GMT"
    )


def parse_http_date(text: str) -> datetime:
    """Parse an HTTP-date (RFC 9110 5.6.7) into an aware UTC datetime.

    Accepts the IMF-fixdate and, as recipients must, the obsolete RFC 850 and asctime forms
    (two-digit RFC 850 years are read within 50 years of now). The day name must match the
    date. Raises ``ValueError``.
    """
    text = text.strip(" \t")
    day_name: str
    m = _IMF_RE.fullmatch(text)
    if m is not None:
        day_name, day, mon, year, hh, mm, ss = m.groups()
        days = _DAYS
        y = int(year)
    else:
        m = _RFC850_RE.fullmatch(text)
        if m is not None:
            day_name, day, mon, year2, hh, mm, ss = m.groups()
            days = _LONG_DAYS
            now_year = datetime.now(UTC).year
            y = 1900 + int(year2)
            while y < now_year - 50:
                y += 100
        else:
            m = _ASCTIME_RE.fullmatch(text)
            if m is None:
                raise ValueError(f"not an HTTP-date: {text!r}")
            day_name, mon, day, hh, mm, ss, year = m.groups()
            days = _DAYS
            y = int(year)
            day = day.strip()
    if mon not in _MONTHS:
        raise ValueError(f"unknown month {mon!r}")
    try:
        when = datetime(y, _MONTHS.index(mon) + 1, int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a valid date: {text!r} ({exc})") from exc
    if day_name != days[when.weekday()]:
        raise ValueError(f"{day_name} does not match the date in {text!r}")
    return when


@dataclass(frozen=True, slots=True)
class _DateHeader:
    when: datetime

    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        w = self.when
        utc = w.replace(tzinfo=UTC) if w.tzinfo is None else w.astimezone(UTC)
        object.__setattr__(self, "when", utc.replace(microsecond=0))

    @classmethod
    def decode(cls, values: list[str]) -> Self:
        """Parse the single HTTP-date."""
        text = _single(cls.name, values)
        try:
            return cls(parse_http_date(text))
        except ValueError as exc:
            raise _err(cls.name, str(exc)) from exc

    def encode(self) -> str:
        """The IMF-fixdate."""
        return format_http_date(self.when)

    @classmethod
    def now(cls) -> Self:
        """The current time (whole seconds)."""
        return cls(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Date(_DateHeader):
    """``Date``: when the message was generated (UTC, whole seconds)."""

    name: ClassVar[str] = "Date"


@dataclass(frozen=True, slots=True)
class LastModified(_DateHeader):
    """``Last-Modified`` (UTC, whole seconds)."""

    name: ClassVar[str] = "Last-Modified"


@dataclass(frozen=True, slots=True)
class IfModifiedSince(_DateHeader):
    """``If-Modified-Since`` (UTC, whole seconds)."""

    name: ClassVar[str] = "If-Modified-Since"
