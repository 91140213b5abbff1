"""Uri: an HTTP request-target / URI that keeps its exact original form."""

from __future__ import annotations

import re
from enum import Enum

from pyrama_http_types.errors import InvalidUriError
from pyrama_net import Authority, Host, Protocol
from pyrama_net.errors import AddressError

__all__ = ["Uri", "UriForm"]

# Visible ASCII plus obs-text bytes: no space, no control characters, no DEL.
_CHARS_RE = re.compile(rb"[\x21-\x7e\x80-\xff]+")
_SCHEME_RE = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*")
_PORT_RE = re.compile(r"[0-9]{1,5}")


class UriForm(Enum):
    """The four request-target forms of RFC 9112 section 3.2."""

    ORIGIN = "origin"
    """``/path?query``: the usual form sent to an origin server."""
    ABSOLUTE = "absolute"
    """``http://host:port/path?query``: sent to a forward proxy (and valid everywhere)."""
    AUTHORITY = "authority"
    """``host:port``: only for ``CONNECT``."""
    ASTERISK = "asterisk"
    """``*``: only for a server-wide ``OPTIONS``."""


def _err(raw: bytes, reason: str) -> InvalidUriError:
    shown = raw if len(raw) <= 200 else raw[:200] + b"..."
    return InvalidUriError(f"invalid URI {shown!r}: {reason}")


def _to_raw(value: object) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise InvalidUriError(
                f"invalid URI {value!r}: characters above U+00FF must be percent-encoded"
            ) from exc
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"a URI must be str or bytes, got {type(value).__name__}")


_HOST_CACHE: dict[str, Host] = {}
_HOST_CACHE_MAX = 1024


def _parse_host(raw: bytes, text: str) -> Host:
    """Parse (and cache: a proxy sees the same few hosts again and again) a URI host."""
    host = _HOST_CACHE.get(text)
    if host is None:
        try:
            host = Host.parse(text)
        except AddressError as exc:
            raise _err(raw, f"invalid host ({exc})") from exc
        if len(_HOST_CACHE) >= _HOST_CACHE_MAX:
            _HOST_CACHE.clear()
        _HOST_CACHE[text] = host
    return host


class Uri:
    """A URI as found in a request line (RFC 9112 3.2) or given by a user.

    Parsing is strict about what can break a request line (spaces, control characters, DEL,
    an empty target; a fragment unless ``allow_fragment=True``) and about the authority (the
    host must be a valid :class:`~pyrama_net.Host`, the port ``0..65535``), but keeps the
    exact bytes it was given: ``str(uri)`` and :meth:`as_bytes` return the original target, so
    a proxy forwards what it received. Path and query are not decoded or normalised
    (percent-escapes stay as they are). Bytes ``0x80..0xFF`` are kept as is; the ``str`` form
    maps them through Latin-1, so ``Uri.parse(str(uri)) == uri`` always holds.

    Forms (:attr:`form`): origin ``/p?q``, absolute ``http://h:1/p?q`` (``scheme://`` is
    required), authority ``host:port`` (the port is required), asterisk ``*``.
    """

    __slots__ = (
        "_authority_text",
        "_form",
        "_fragment",
        "_host",
        "_path",
        "_port",
        "_query",
        "_raw",
        "_scheme",
        "_userinfo",
    )

    def __init__(self, target: str | bytes, *, allow_fragment: bool = False) -> None:
        """Parse *target*; same as :meth:`parse`."""
        raw = _to_raw(target)
        self._raw = raw
        self._scheme: str | None = None
        self._userinfo: str | None = None
        self._authority_text: str | None = None
        self._host: Host | None = None
        self._port: int | None = None
        self._query: str | None = None
        self._fragment: str | None = None
        if _CHARS_RE.fullmatch(raw) is None:
            if not raw:
                raise _err(raw, "it is empty")
            bad = next(b for b in raw if b <= 0x20 or b == 0x7F)
            raise _err(raw, f"byte {bytes([bad])!r} is not allowed (no spaces or controls)")
        text = raw.decode("latin-1")
        if "#" in text:
            if not allow_fragment:
                raise _err(raw, "a request-target may not contain a fragment ('#')")
            text, _, frag = text.partition("#")
            self._fragment = frag
            if not text:
                raise _err(raw, "it has only a fragment")
        first = text[0]
        if first == "/":
            self._form = UriForm.ORIGIN
            self._split_path_query(text)
            return
        if text == "*":
            self._form = UriForm.ASTERISK
            self._path = "*"
            return
        sep = text.find("://")
        if sep > 0:
            self._parse_absolute(raw, text, sep)
            return
        if self._fragment is not None:
            raise _err(raw, "an authority-form target has no fragment")
        self._form = UriForm.AUTHORITY
        self._path = ""
        if not text.isascii():
            raise _err(raw, "the authority must be ASCII")
        try:
            authority = Authority.parse(text)
        except AddressError as exc:
            raise _err(raw, f"not a valid host:port authority ({exc})") from exc
        self._authority_text = text
        self._host = authority.host
        self._port = authority.port

    # -- parsing ---------------------------------------------------------------------------

    def _split_path_query(self, text: str) -> None:
        q = text.find("?")
        if q < 0:
            self._path = text
        else:
            self._path = text[:q]
            self._query = text[q + 1 :]

    def _parse_absolute(self, raw: bytes, text: str, sep: int) -> None:
        scheme = text[:sep]
        if _SCHEME_RE.fullmatch(scheme.encode("latin-1")) is None:
            raise _err(raw, f"invalid scheme {scheme!r}")
        self._form = UriForm.ABSOLUTE
        self._scheme = scheme.lower()
        rest = text[sep + 3 :]
        end = len(rest)
        for stop in ("/", "?"):
            i = rest.find(stop)
            if 0 <= i < end:
                end = i
        authority = rest[:end]
        self._split_path_query(rest[end:])
        userinfo, at, host_port = authority.rpartition("@")
        if at:
            self._userinfo = userinfo
        if not host_port:
            raise _err(raw, "the host is empty")
        if not host_port.isascii():
            raise _err(raw, "the host must be ASCII (use the xn-- form for IDNs)")
        port_text: str | None = None
        if host_port[0] == "[":
            close = host_port.find("]")
            if close < 0:
                raise _err(raw, "'[' without a closing ']' in the host")
            host_text = host_port[: close + 1]
            tail = host_port[close + 1 :]
            if tail:
                if tail[0] != ":":
                    raise _err(raw, "unexpected characters after the IPv6 host")
                port_text = tail[1:]
        else:
            host_text, colon, port = host_port.rpartition(":")
            if colon:
                port_text = port
            else:
                host_text = host_port
        if port_text is not None:
            if _PORT_RE.fullmatch(port_text) is None or int(port_text) > 65535:
                raise _err(raw, f"invalid port {port_text!r} (1 to 5 digits, at most 65535)")
            self._port = int(port_text)
        self._host = _parse_host(raw, host_text)
        self._authority_text = host_port

    @classmethod
    def parse(cls, target: str | bytes, *, allow_fragment: bool = False) -> Uri:
        """Parse a request-target or URI (see the class docs); raise ``InvalidUriError``."""
        return cls(target, allow_fragment=allow_fragment)

    @classmethod
    def from_parts(
        cls,
        *,
        scheme: str | Protocol | None = None,
        authority: str | Authority | None = None,
        path: str = "",
        query: str | None = None,
        fragment: str | None = None,
        userinfo: str | None = None,
    ) -> Uri:
        """Build a URI from its components (validated by parsing the result).

        With a scheme and an authority the result is absolute-form; with only an authority
        (and no path or query) authority-form; otherwise origin-form (``path`` defaults to
        ``/``) or asterisk-form (``path="*"``).
        """
        auth = None if authority is None else str(authority)
        text: str
        if scheme is not None:
            if auth is None:
                raise InvalidUriError("a URI with a scheme needs an authority")
            if path and path[0] != "/":
                raise InvalidUriError(f"the path {path!r} must start with '/' after an authority")
            cred = "" if userinfo is None else f"{userinfo}@"
            text = f"{scheme}://{cred}{auth}{path}"
        elif auth is not None and not path and query is None:
            if userinfo is not None:
                raise InvalidUriError("an authority-form target has no userinfo")
            text = auth
        else:
            if userinfo is not None:
                raise InvalidUriError("userinfo needs a scheme and an authority")
            text = path or "/"
            if text != "*" and text[0] != "/":
                raise InvalidUriError(f"the path {path!r} must start with '/'")
        if query is not None:
            text += "?" + query
        if fragment is not None:
            text += "#" + fragment
        return cls(text, allow_fragment=fragment is not None)

    # -- components ------------------------------------------------------------------------

    @property
    def form(self) -> UriForm:
        """Which of the four request-target forms this is."""
        return self._form

    @property
    def is_absolute(self) -> bool:
        """Whether this is absolute-form (has a scheme and an authority)."""
        return self._form is UriForm.ABSOLUTE

    @property
    def scheme(self) -> str | None:
        """The lowercase scheme (absolute-form only)."""
        return self._scheme

    @property
    def protocol(self) -> Protocol | None:
        """The scheme as a :class:`~pyrama_net.Protocol` (absolute-form only)."""
        return None if self._scheme is None else Protocol(self._scheme)

    @property
    def userinfo(self) -> str | None:
        """The ``user:password`` part before ``@`` in an absolute URI, as written, or ``None``."""
        return self._userinfo

    @property
    def authority_text(self) -> str | None:
        """The ``host[:port]`` part exactly as written (no userinfo), or ``None``."""
        return self._authority_text

    @property
    def host(self) -> Host | None:
        """The host (absolute- and authority-form), or ``None``."""
        return self._host

    @property
    def explicit_port(self) -> int | None:
        """The port written in the URI, or ``None``."""
        return self._port

    @property
    def port(self) -> int | None:
        """The written port, else the scheme's default port (``http`` 80, ...), else ``None``."""
        if self._port is not None:
            return self._port
        if self._scheme is None:
            return None
        return _DEFAULT_PORTS.get(self._scheme)

    @property
    def authority(self) -> Authority | None:
        """Host and (explicit or default) port, or ``None`` if either is unknown."""
        host = self._host
        port = self.port
        if host is None or port is None:
            return None
        return Authority(host, port)

    @property
    def path(self) -> str:
        """The path as written; ``/`` for an absolute URI with an empty path.

        ``*`` for asterisk-form, ``""`` for authority-form.
        """
        if not self._path and self._form is UriForm.ABSOLUTE:
            return "/"
        return self._path

    @property
    def raw_path(self) -> str:
        """The path exactly as written (may be ``""`` in an absolute URI)."""
        return self._path

    @property
    def query(self) -> str | None:
        """The query after ``?`` as written (``""`` for a bare ``?``), or ``None``."""
        return self._query

    @property
    def fragment(self) -> str | None:
        """The fragment after ``#`` (only when parsed with ``allow_fragment=True``)."""
        return self._fragment

    @property
    def path_and_query(self) -> str:
        """:attr:`path` plus ``?query``: the origin-form target to send to an origin server."""
        if self._query is None:
            return self.path
        return f"{self.path}?{self._query}"

    def as_bytes(self) -> bytes:
        """The exact original bytes."""
        return self._raw

    def __str__(self) -> str:
        return self._raw.decode("latin-1")

    def __repr__(self) -> str:
        return f"Uri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """Equal when the original forms are byte for byte equal."""
        if not isinstance(other, Uri):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    # -- builders --------------------------------------------------------------------------

    def _parts(self) -> dict[str, str | None]:
        return {
            "scheme": self._scheme if self._form is UriForm.ABSOLUTE else None,
            "authority": self._authority_text,
            "path": self._path,
            "query": self._query,
            "fragment": self._fragment,
            "userinfo": self._userinfo,
        }

    def _rebuild(self, **changes: str | None) -> Uri:
        parts = self._parts()
        parts.update(changes)
        path = parts["path"] or ""
        return Uri.from_parts(
            scheme=parts["scheme"],
            authority=parts["authority"],
            path=path,
            query=parts["query"],
            fragment=parts["fragment"],
            userinfo=parts["userinfo"],
        )

    def with_scheme(self, scheme: str | Protocol) -> Uri:
        """A copy with *scheme* (the URI must have an authority)."""
        return self._rebuild(scheme=str(scheme))

    def with_authority(self, authority: str | Authority) -> Uri:
        """A copy with *authority* (``host[:port]``) replacing the current one."""
        return self._rebuild(authority=str(authority))

    def with_path(self, path: str) -> Uri:
        """A copy with *path* (must start with ``/``; the query is kept)."""
        return self._rebuild(path=path)

    def with_query(self, query: str | None) -> Uri:
        """A copy with *query* (``None`` removes it)."""
        return self._rebuild(query=query)

    def with_path_and_query(self, path_and_query: str) -> Uri:
        """A copy with the path and query taken from *path_and_query* (``/p?q``)."""
        path, q, query = path_and_query.partition("?")
        return self._rebuild(path=path, query=query if q else None)

    def with_fragment(self, fragment: str | None) -> Uri:
        """A copy with *fragment* (``None`` removes it)."""
        return self._rebuild(fragment=fragment)

    def without_userinfo(self) -> Uri:
        """A copy without ``user:password@`` (what a client must not send on the wire)."""
        return self._rebuild(userinfo=None)

    def to_origin_form(self) -> Uri:
        """The origin-form target (:attr:`path_and_query`), as a proxy sends to an origin.

        Keeps the exact path and query bytes; drops scheme, authority and fragment.
        """
        if self._form is UriForm.ORIGIN and self._fragment is None:
            return self
        if self._form is UriForm.AUTHORITY:
            raise InvalidUriError("an authority-form target has no origin form")
        return Uri(self.path_and_query)


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
