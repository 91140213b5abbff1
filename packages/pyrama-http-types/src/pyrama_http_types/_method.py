"""Method: an HTTP request method (a case-sensitive token)."""

from __future__ import annotations

import re
from typing import ClassVar

from pyrama_http_types.errors import InvalidMethodError

__all__ = ["Method"]

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "QUERY"})
_IDEMPOTENT = _SAFE | {"PUT", "DELETE"}
_KNOWN: dict[str, Method] = {}
_KNOWN_BYTES: dict[bytes, Method] = {}


class Method(str):
    """An HTTP method: a ``str`` holding an RFC 9110 token, compared case-sensitively.

    The registered methods are class constants (:attr:`GET`, :attr:`POST`, ... and
    :attr:`QUERY`); any other token is accepted as an extension method (``Method("PURGE")``).
    ``get`` is not ``GET``: methods are case-sensitive (RFC 9110 9.1). A ``Method`` equals the
    plain ``str`` with the same text.
    """

    __slots__ = ()

    GET: ClassVar[Method]
    """``GET``: safe, idempotent."""
    HEAD: ClassVar[Method]
    """``HEAD``: safe, idempotent."""
    POST: ClassVar[Method]
    """``POST``."""
    PUT: ClassVar[Method]
    """``PUT``: idempotent."""
    DELETE: ClassVar[Method]
    """``DELETE``: idempotent."""
    CONNECT: ClassVar[Method]
    """``CONNECT``."""
    OPTIONS: ClassVar[Method]
    """``OPTIONS``: safe, idempotent."""
    TRACE: ClassVar[Method]
    """``TRACE``: safe, idempotent."""
    PATCH: ClassVar[Method]
    """``PATCH``."""
    QUERY: ClassVar[Method]
    """``QUERY`` (draft-ietf-httpbis-safe-method-w-body): safe, idempotent."""

    def __new__(cls, value: str | bytes) -> Method:
        """Validate *value* as a token; known methods return the shared constant."""
        if isinstance(value, bytes | bytearray):
            raw = bytes(value)
            known = _KNOWN_BYTES.get(raw)
            if known is not None:
                return known
            try:
                value = raw.decode("ascii")
            except UnicodeDecodeError as exc:
                raise InvalidMethodError(f"invalid method {raw!r}: not ASCII") from exc
        elif not isinstance(value, str):
            raise TypeError(f"a method must be str or bytes, got {type(value).__name__}")
        else:
            known = _KNOWN.get(value)
            if known is not None:
                return known
        if _TOKEN_RE.fullmatch(value) is None:
            raise InvalidMethodError(f"invalid method {value!r}: a method is an HTTP token")
        return str.__new__(cls, value)

    @classmethod
    def parse(cls, value: str | bytes) -> Method:
        """Same as ``Method(value)``."""
        return cls(value)

    @property
    def is_safe(self) -> bool:
        """Whether the method is safe (read-only): GET, HEAD, OPTIONS, TRACE, QUERY."""
        return self in _SAFE

    @property
    def is_idempotent(self) -> bool:
        """Whether repeating the request has the same effect: the safe methods, PUT, DELETE."""
        return self in _IDEMPOTENT

    @property
    def is_known(self) -> bool:
        """Whether this is one of the class constants (not an extension method)."""
        return self in _KNOWN

    def as_bytes(self) -> bytes:
        """The wire form."""
        return self.encode("ascii")

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Method({str.__repr__(self)})"


for _name in (
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "QUERY",
):
    _m = str.__new__(Method, _name)
    _KNOWN[_name] = _m
    _KNOWN_BYTES[_name.encode("ascii")] = _m
    setattr(Method, _name, _m)
del _name, _m
