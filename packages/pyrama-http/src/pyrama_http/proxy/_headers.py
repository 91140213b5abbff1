"""Hop-by-hop header fields: what a proxy removes before forwarding a message."""

from __future__ import annotations

from operator import itemgetter
from typing import Final

from pyrama_http_types import HeaderMap, Version

__all__ = [
    "HOP_BY_HOP_HEADERS",
    "connection_nominated",
    "strip_hop_by_hop",
    "strip_raw",
    "via_value",
]

HOP_BY_HOP_HEADERS: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
"""Fields that describe one connection, not the message (RFC 9110 7.6.1, plus the
non-standard ``Proxy-Connection`` and ``Keep-Alive``); lowercase wire names."""

# Fields a ``Connection`` option may not remove: dropping them would change how the message
# is framed or routed (an old request-smuggling and access-control trick).
_PROTECTED: Final = frozenset({b"host", b"content-length", b"content-type"})


_OPTIONS_CACHE: dict[bytes, frozenset[bytes]] = {}
_OPTIONS_CACHE_MAX: Final = 256


def _options(value: bytes) -> frozenset[bytes]:
    """The field names one ``Connection`` value nominates beyond the hop-by-hop set.

    Cached: the same few values (``keep-alive`` and ``close`` above all) come with every
    message.
    """
    names = frozenset(
        name
        for name in (token.strip(b" \t").lower() for token in value.split(b","))
        if name and name not in HOP_BY_HOP_HEADERS and name not in _PROTECTED
    )
    if len(_OPTIONS_CACHE) >= _OPTIONS_CACHE_MAX:
        _OPTIONS_CACHE.clear()
    _OPTIONS_CACHE[value] = names
    return names


def connection_nominated(headers: HeaderMap) -> frozenset[bytes]:
    """The lowercase field names listed in ``Connection`` (and ``Proxy-Connection``) values."""
    names: set[bytes] = set()
    for field in (b"connection", b"proxy-connection"):
        for value in headers.get_all_raw(field):
            for token in value.split(b","):
                name = token.strip(b" \t").lower()
                if name:
                    names.add(name)
    return frozenset(names - _PROTECTED)


def strip_hop_by_hop(headers: HeaderMap, *, keep_te_trailers: bool = False) -> HeaderMap:
    """A copy of *headers* without hop-by-hop fields and the fields ``Connection`` names.

    Every other field keeps its position and the case of its name. With
    *keep_te_trailers* a ``TE: trailers`` field stays (it is end-to-end in meaning: gRPC
    needs it, HTTP/2 allows it).
    """
    return HeaderMap.from_raw(strip_raw(headers.raw_items(), keep_te_trailers=keep_te_trailers))


def strip_raw(
    raw: list[tuple[bytes, bytes]], *, keep_te_trailers: bool = False
) -> list[tuple[bytes, bytes]]:
    """:func:`strip_hop_by_hop` on wire pairs: *raw* itself when nothing is dropped.

    Which fields go depends on the names, and on the ``Connection`` values only when one
    names a field beyond the hop-by-hop set: the names' plan (what to drop, where the
    ``Connection`` fields are) is kept per tuple of names, as the same few header blocks
    (by name) come again and again.
    """
    if keep_te_trailers:
        return _strip(raw, True)
    key = tuple(raw)
    try:
        known = _RESULTS.get(key, _MISSING)
    except TypeError:  # an unhashable name or value (a bytearray): no cache
        return _strip(raw, False)
    if known is not _MISSING:
        return raw if known is None else list(known)
    kept = _strip_planned(raw)
    if all(type(name) is bytes and type(value) is bytes for name, value in key):
        if len(_RESULTS) >= _RESULTS_MAX:
            _RESULTS.clear()
        _RESULTS[key] = None if kept is raw else tuple(kept)
    return kept


# Results by the exact fields: the same header blocks (names and values) come again and again
# (a client repeating its request, an origin its answer head until its Date changes), and
# what is kept depends on nothing else. Values are the kept fields, or None when none go.
# Only fields of exact bytes are kept; bounded in entries.
_RESULTS: dict[tuple[tuple[bytes, bytes], ...], tuple[tuple[bytes, bytes], ...] | None] = {}
_RESULTS_MAX: Final = 256
# the default of a look-up: compared by identity, and no stored value is this object
_MISSING: Final[tuple[tuple[bytes, bytes], ...]] = ((b"", b""),)


def _strip_planned(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """:func:`strip_raw` (without *keep_te_trailers*) through the plan of the names."""
    names = tuple(map(_first, raw))
    try:
        plan = _PLANS.get(names)
    except TypeError:  # an unhashable name (a bytearray): no plan
        return _strip(raw, False)
    if plan is None:
        plan = _plan(names)
    drop, conn = plan
    if not drop:
        return raw
    for i in conn:
        value = raw[i][1]
        options = _OPTIONS_CACHE.get(value)
        if options is None:
            options = _options(value)
        if options:  # a field is named for removal: the full pass
            return _strip(raw, False)
    kept = raw.copy()
    for i in drop:  # from the last: the earlier indexes stay right
        del kept[i]
    return kept


_first = itemgetter(0)

# names tuple -> (indexes of the hop-by-hop fields, last first; indexes of the Connection
# and Proxy-Connection fields). Only tuples of exact bytes are kept; bounded in entries.
_PLANS: dict[tuple[bytes, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
_PLANS_MAX: Final = 256


def _plan(names: tuple[bytes, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    lower = [name.lower() for name in names]
    hop = HOP_BY_HOP_HEADERS
    drop = tuple(i for i in range(len(lower) - 1, -1, -1) if lower[i] in hop)
    conn = tuple(
        i for i, low in enumerate(lower) if low == b"connection" or low == b"proxy-connection"
    )
    plan = (drop, conn)
    if all(type(name) is bytes for name in names):
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        _PLANS[names] = plan
    return plan


def _strip(raw: list[tuple[bytes, bytes]], keep_te_trailers: bool) -> list[tuple[bytes, bytes]]:
    """The full pass of :func:`strip_raw` (``Connection`` options read from every value)."""
    hop = HOP_BY_HOP_HEADERS
    lower = [name.lower() for name, _ in raw]
    if hop.isdisjoint(lower):
        return raw
    nominated: set[bytes] | None = None
    for low, (_, value) in zip(lower, raw, strict=True):
        if low == b"connection" or low == b"proxy-connection":
            names = _OPTIONS_CACHE.get(value)
            if names is None:
                names = _options(value)
            if names:
                if nominated is None:
                    nominated = set(names)
                else:
                    nominated.update(names)
    kept: list[tuple[bytes, bytes]] = []
    for low, pair in zip(lower, raw, strict=True):
        if low in hop:
            if keep_te_trailers and low == b"te" and pair[1].strip().lower() == b"trailers":
                kept.append(pair)
            continue
        if nominated is not None and low in nominated:
            continue
        kept.append(pair)
    return kept


def via_value(version: Version, pseudonym: str) -> bytes:
    """The ``Via`` entry for a message received with *version*: ``1.1 pyrama`` or ``2 pyrama``."""
    return f"{version.value[5:]} {pseudonym}".encode("latin-1")
