"""What an HTTP/2 server records about its client's first frames (Akamai fingerprint inputs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from pyrama_http_types import AkamaiH2Fingerprint, H2Priority

__all__ = [
    "H2ClientFingerprintData",
    "H2PseudoHeaderOrder",
    "pseudo_header_order",
    "pseudo_order_of",
]


@dataclass(frozen=True, slots=True)
class H2PseudoHeaderOrder:
    """The order of the pseudo-header fields of one HTTP/2 request, as sent on the wire.

    The server driver puts one in every request's extensions; the client driver sends a
    request's pseudo-headers in this order when the request carries one (otherwise in its
    configured order), so a proxy can keep the order its client used.
    """

    order: tuple[str, ...]


@dataclass(slots=True)
class H2ClientFingerprintData:
    """The HTTP/2 frames a client sent before (and in) its first request.

    Recorded by the server driver and stored on the connection's extensions (every request
    sees it through its forked extensions). These are exactly the inputs of
    :meth:`pyrama_http_types.AkamaiH2Fingerprint.from_frames`: the first SETTINGS frame's
    entries in wire order, the connection WINDOW_UPDATE increment sent before the first
    HEADERS (``None`` if none), the PRIORITY frames sent before the first HEADERS, and the
    pseudo-header order of the first request; :meth:`akamai` builds the fingerprint.
    ``headers_priority`` holds the first HEADERS frame's own priority fields, if any.
    """

    settings: list[tuple[int, int]] = field(default_factory=list)
    window_update: int | None = None
    priorities: list[H2Priority] = field(default_factory=list)
    pseudo_header_order: tuple[str, ...] = ()
    headers_priority: H2Priority | None = None
    complete: bool = False
    """Whether the first request's HEADERS arrived (the record no longer changes)."""

    def akamai(self) -> AkamaiH2Fingerprint:
        """The Akamai HTTP/2 fingerprint of these frames."""
        return AkamaiH2Fingerprint.from_frames(
            self.settings, self.window_update, self.priorities, self.pseudo_header_order
        )


_ORDERS: dict[tuple[bytes, ...], H2PseudoHeaderOrder] = {}
_ORDERS_MAX: Final = 256


def pseudo_header_order(headers: list[tuple[bytes, bytes]]) -> H2PseudoHeaderOrder:
    """The (shared, cached) :class:`H2PseudoHeaderOrder` of a received header list."""
    names = []
    for name, _ in headers:
        if name[:1] != b":":
            break
        names.append(name)
    return pseudo_order_of(tuple(names))


def pseudo_order_of(key: tuple[bytes, ...]) -> H2PseudoHeaderOrder:
    """The (shared, cached) :class:`H2PseudoHeaderOrder` of these pseudo-header names."""
    order = _ORDERS.get(key)
    if order is None:
        order = H2PseudoHeaderOrder(tuple(n.decode("ascii", "replace") for n in key))
        if len(_ORDERS) < _ORDERS_MAX:
            _ORDERS[key] = order
    return order
