"""Hop-by-hop header fields: what a proxy removes before forwarding a message."""

from __future__ import annotations

from typing import Final

from pyrama_http_types import HeaderMap, Version

__all__ = ["HOP_BY_HOP_HEADERS", "connection_nominated", "strip_hop_by_hop", "via_value"]

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
    lower = headers.lower_items()
    drop = HOP_BY_HOP_HEADERS
    nominated = connection_nominated(headers)
    if nominated:
        drop = drop | nominated
    if not any(name in drop for name, _ in lower):
        return headers.copy()
    kept: list[tuple[bytes, bytes]] = []
    for (raw_name, value), (name, _) in zip(headers.raw_items(), lower, strict=True):
        te_kept = keep_te_trailers and name == b"te" and value.strip().lower() == b"trailers"
        if name in drop and not te_kept:
            continue
        kept.append((raw_name, value))
    return HeaderMap.from_raw(kept)


def via_value(version: Version, pseudonym: str) -> bytes:
    """The ``Via`` entry for a message received with *version*: ``1.1 pyrama`` or ``2 pyrama``."""
    return f"{version.value[5:]} {pseudonym}".encode("latin-1")
