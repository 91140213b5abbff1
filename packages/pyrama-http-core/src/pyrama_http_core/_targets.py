"""Request targets and methods as the drivers receive them, parsed once and reused.

A server sees the same few request targets (``/``, ``/health``, ``/api/items``) and methods
over and over; :class:`~pyrama_http_types.Uri` and :class:`~pyrama_http_types.Method` are
immutable, so each distinct short target is parsed once and its ``Uri`` shared by every
request that names it. The caches are bounded (entries and target length) so that a client
sending ever new targets costs memory only up to the bound.
"""

from __future__ import annotations

from typing import Final

from pyrama_http_types import Method, Uri

__all__ = ["KNOWN_METHODS", "KNOWN_URIS", "request_method", "request_uri"]

_URIS: dict[bytes, Uri] = {}
_URIS_MAX: Final = 2048
_URI_CACHE_LEN: Final = 256  # longer targets are parsed every time (not kept)
_METHODS: dict[bytes, Method] = {}

KNOWN_URIS: Final = _URIS
"""The parsed targets kept so far (read-only for callers: a hit spares the call)."""
KNOWN_METHODS: Final = _METHODS
"""The known methods kept so far (read-only for callers: a hit spares the call)."""


def request_uri(raw: bytes) -> Uri:
    """The :class:`~pyrama_http_types.Uri` of request target *raw* (``InvalidUriError``)."""
    uri = _URIS.get(raw)
    if uri is None:
        uri = Uri(raw)
        if len(raw) <= _URI_CACHE_LEN:
            if len(_URIS) >= _URIS_MAX:
                _URIS.clear()
            _URIS[raw] = uri
    return uri


def request_method(raw: bytes) -> Method:
    """The :class:`~pyrama_http_types.Method` named *raw* (``InvalidMethodError``)."""
    method = _METHODS.get(raw)
    if method is None:
        method = Method(raw)
        if method.is_known:  # extension methods are validated each time, never kept
            _METHODS[raw] = method
    return method
