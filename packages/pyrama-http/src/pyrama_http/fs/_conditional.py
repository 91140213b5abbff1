"""HTTP validators and ranges: entity-tag lists, preconditions (RFC 9110 13) and Range (14)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from pyrama_http_types import HeaderMap, Method, parse_http_date

__all__ = [
    "ByteRange",
    "Precondition",
    "etag_matches",
    "evaluate_preconditions",
    "if_range_allows",
    "parse_range",
]

_ETAG_RE = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')


def _parse_etags(value: str) -> list[tuple[bool, str]] | None:
    """``(weak, opaque)`` of every entity-tag in a comma list; ``None`` if malformed."""
    out: list[tuple[bool, str]] = []
    pos = 0
    n = len(value)
    while pos < n:
        m = _ETAG_RE.match(value, pos)
        if m is None:
            return None
        out.append((m.group(1) is not None, m.group(2)))
        pos = m.end()
        if pos < n:
            if value[pos] != ",":
                return None
            pos += 1
            while pos < n and value[pos] in " \t,":
                pos += 1
    return out


def _split_etag(etag: str) -> tuple[bool, str]:
    weak = etag.startswith("W/")
    return weak, etag[2:].strip('"') if weak else etag.strip('"')


def etag_matches(header: str, etag: str, *, strong: bool) -> bool:
    """Whether the ``If-Match``/``If-None-Match`` *header* matches our *etag*.

    ``*`` matches anything. With *strong* both tags must be strong and equal (the strong
    comparison of RFC 9110 8.8.3.2); otherwise only the opaque parts are compared. A
    malformed list matches nothing.
    """
    if header.strip() == "*":
        return True
    tags = _parse_etags(header)
    if tags is None:
        return False
    weak, opaque = _split_etag(etag)
    for their_weak, their_opaque in tags:
        if their_opaque != opaque:
            continue
        if not strong or not (weak or their_weak):
            return True
    return False


def _date(headers: HeaderMap, name: str) -> datetime | None:
    values = headers.get_all(name)
    if len(values) != 1:
        return None
    try:
        return parse_http_date(values[0])
    except ValueError:
        return None


class Precondition(enum.Enum):
    """The outcome of :func:`evaluate_preconditions`."""

    PROCEED = "proceed"
    """Serve the representation (a ``Range`` may still apply)."""
    NOT_MODIFIED = "not-modified"
    """Answer ``304 Not Modified``."""
    FAILED = "failed"
    """Answer ``412 Precondition Failed``."""


def evaluate_preconditions(
    method: Method, headers: HeaderMap, etag: str, last_modified: datetime
) -> Precondition:
    """Evaluate the conditional request headers in the order RFC 9110 13.2.2 gives.

    ``If-Match`` (strong comparison) or else ``If-Unmodified-Since``; then ``If-None-Match``
    (weak comparison; ``304`` for GET/HEAD, ``412`` otherwise) or else, for GET/HEAD,
    ``If-Modified-Since``. An invalid date is ignored.
    """
    if_match = headers.get_joined("if-match")
    if if_match is not None:
        if not etag_matches(if_match, etag, strong=True):
            return Precondition.FAILED
    else:
        since = _date(headers, "if-unmodified-since")
        if since is not None and last_modified > since:
            return Precondition.FAILED
    safe = method == Method.GET or method == Method.HEAD
    if_none = headers.get_joined("if-none-match")
    if if_none is not None:
        if etag_matches(if_none, etag, strong=False):
            return Precondition.NOT_MODIFIED if safe else Precondition.FAILED
    elif safe:
        since = _date(headers, "if-modified-since")
        if since is not None and last_modified <= since:
            return Precondition.NOT_MODIFIED
    return Precondition.PROCEED


def if_range_allows(headers: HeaderMap, etag: str, last_modified: datetime) -> bool:
    """Whether a ``Range`` may be honoured given ``If-Range`` (true when it is absent).

    An entity-tag must match strongly (a weak tag never does); a date must equal the
    representation's ``Last-Modified`` exactly.
    """
    values = headers.get_all("if-range")
    if not values:
        return True
    if len(values) != 1:
        return False
    value = values[0].strip()
    if value.startswith(('"', "W/")):
        return etag_matches(value, etag, strong=True) and value != "*"
    try:
        return parse_http_date(value) == last_modified
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive byte range ``start..end`` of a representation."""

    start: int
    """First byte offset."""
    end: int
    """Last byte offset (inclusive)."""

    @property
    def length(self) -> int:
        """How many bytes the range covers."""
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        """The ``Content-Range`` value: ``bytes start-end/size``."""
        return f"bytes {self.start}-{self.end}/{size}"


# at most 19 digits (positions fit in 63 bits; longer numbers make the header ignored)
_SPEC_RE = re.compile(r"\s*(\d{0,19})\s*-\s*(\d{0,19})\s*")


def parse_range(value: str, size: int, max_ranges: int) -> list[ByteRange] | None:
    """Parse a ``Range: bytes=...`` header against a representation of *size* bytes.

    Returns ``None`` when the header should be ignored (not ``bytes``, malformed, more than
    *max_ranges* ranges: the full representation is sent), an empty list when no range is
    satisfiable (``416``), else the satisfiable ranges in request order.
    """
    unit, eq, specs = value.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > max_ranges:
        return None
    out: list[ByteRange] = []
    for part in parts:
        if not part.strip():
            continue  # empty list elements are allowed
        m = _SPEC_RE.fullmatch(part)
        if m is None:
            return None
        first, last = m.group(1), m.group(2)
        if first:
            start = int(first)
            end = int(last) if last else size - 1
            if last and end < start:
                return None
            if start >= size:
                continue  # unsatisfiable
            out.append(ByteRange(start, min(end, size - 1)))
        elif last:
            suffix = int(last)
            if suffix == 0 or size == 0:
                continue
            out.append(ByteRange(max(0, size - suffix), size - 1))
        else:
            return None
    if not out and not any(p.strip() for p in parts):
        return None
    return out
