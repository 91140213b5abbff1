"""HeaderMap: an ordered, case-preserving, case-insensitive multi-map of HTTP header fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

from pyrama_http_types.errors import HeaderError, TypedHeaderError

__all__ = [
    "HeaderItems",
    "HeaderMap",
    "HeaderName",
    "HeaderValue",
    "TypedHeader",
    "check_header_name",
    "check_header_value",
]

_new = object.__new__  # a global: cls.__new__ is a look-up through the MRO each time

HeaderName = str | bytes
"""A header name as accepted by :class:`HeaderMap`: ``str`` (Latin-1) or ``bytes``."""

HeaderValue = str | bytes
"""A header value as accepted by :class:`HeaderMap`: ``str`` (Latin-1) or ``bytes``."""

HeaderItems = (
    Iterable[tuple[str, HeaderValue]]
    | Iterable[tuple[bytes, HeaderValue]]
    | Iterable[tuple[HeaderName, HeaderValue]]
    | Mapping[str, HeaderValue]
    | Mapping[bytes, HeaderValue]
)
"""What :class:`HeaderMap` accepts as user input: ``(name, value)`` pairs or a mapping."""

_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_RE = re.compile(rb"[\r\n\x00]")
_SENSITIVE = frozenset(
    {b"authorization", b"proxy-authorization", b"cookie", b"set-cookie", b"proxy-authenticate"}
)
_KEY_CACHE: dict[str, bytes] = {}
_KEY_CACHE_MAX = 1024
# Up to this many fields a look-up scans the list; larger maps build a name index on first use.
_SCAN_MAX = 16

T = TypeVar("T", bound="TypedHeader")


def _as_bytes(value: object, what: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise HeaderError(
                f"header {what} {value!r} has characters outside Latin-1; pass bytes "
                "(for example UTF-8 encoded) to send them"
            ) from exc
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"a header {what} must be str or bytes, got {type(value).__name__}")


def check_header_name(name: HeaderName) -> bytes:
    """Return *name* as bytes if it is an HTTP token (RFC 9110 5.1); raise :class:`HeaderError`."""
    raw = _as_bytes(name, "name")
    if _TOKEN_RE.fullmatch(raw) is None:
        if not raw:
            raise HeaderError("a header name may not be empty")
        raise HeaderError(
            f"invalid header name {raw!r}: only token characters "
            "(letters, digits and !#$%&'*+-.^_`|~) are allowed"
        )
    return raw


def check_header_value(value: HeaderValue) -> bytes:
    """Return *value* as bytes if it has no CR, LF or NUL; raise :class:`HeaderError`.

    Such characters would let a value smuggle extra header lines (response splitting).
    """
    raw = _as_bytes(value, "value")
    m = _BAD_VALUE_RE.search(raw)
    if m is not None:
        raise HeaderError(
            f"invalid header value: {m.group()!r} at offset {m.start()} "
            "(CR, LF and NUL are not allowed)"
        )
    return raw


def _key(name: HeaderName) -> bytes:
    """The lowercase wire form used for look-ups (no validation: an invalid name finds nothing)."""
    if type(name) is str:
        k = _KEY_CACHE.get(name)
        if k is None:
            try:
                k = name.encode("latin-1").lower()
            except UnicodeEncodeError:
                return b"\xff\x00invalid"  # never a stored key: stored names are tokens
            if len(_KEY_CACHE) < _KEY_CACHE_MAX:
                _KEY_CACHE[name] = k
        return k
    return _as_bytes(name, "name").lower()


@runtime_checkable
class TypedHeader(Protocol):
    """A header with a typed value (``ContentLength``, ``ContentType``, ...).

    :attr:`name` is the header name; :meth:`decode` builds the typed value from every value of
    that header (in order); :meth:`encode` gives the single value to write. Used by
    :meth:`HeaderMap.typed_get` and :meth:`HeaderMap.typed_insert`.
    """

    name: ClassVar[str]

    @classmethod
    def decode(cls: type[T], values: list[str]) -> T:
        """Build the typed header from its values; raise :class:`TypedHeaderError` if invalid."""
        ...

    def encode(self) -> str:
        """The header value to write."""
        ...


class HeaderMap:
    """An ordered multi-map of header fields that keeps the original case of every name.

    Look-ups are case-insensitive; iteration, :meth:`raw_items` and the wire keep insertion
    order and the names exactly as they were added or received, so a proxy forwards
    ``X-Custom-HEADER`` as it got it. Names and values are stored as ``bytes`` (the wire form);
    the ``str`` API uses Latin-1 so every byte round-trips.

    Construction:

    * ``HeaderMap(items)`` / :meth:`validated` take user input (``(name, value)`` pairs or a
      mapping, ``str`` or ``bytes``) and reject names that are not tokens and values with CR,
      LF or NUL (:class:`~pyrama_http_types.errors.HeaderError`).
    * :meth:`from_raw` takes ``(name, value)`` bytes pairs from a parser that already validated
      them, without checking again (O(n), what protocol drivers use per message).

    :meth:`add` and :meth:`set` validate what they store.
    """

    # ``_ents``: (original name, lowercase name, value) per field. A map made by
    # :meth:`from_raw` holds the wire pairs in ``_raw`` and ``_ents`` is ``None`` until
    # something reads the map (:attr:`_entries` builds it then and drops ``_raw``): a driver's
    # request whose headers nobody looks at never lowercases a name. Exactly one of the two
    # is ``None`` at any time.
    __slots__ = ("_ents", "_index", "_raw")

    def __init__(
        self,
        items: HeaderItems | HeaderMap | None = None,
    ) -> None:
        self._ents: list[tuple[bytes, bytes, bytes]] | None = []
        self._index: dict[bytes, list[int]] | None = None
        self._raw: list[tuple[bytes, bytes]] | None = None
        if items is None:
            return
        if isinstance(items, HeaderMap):
            self._entries = list(items._entries)
            return
        pairs = items.items() if isinstance(items, Mapping) else items
        entries = self._entries
        for name, value in pairs:
            n = check_header_name(name)
            entries.append((n, n.lower(), check_header_value(value)))

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_raw(cls, items: Iterable[tuple[bytes, bytes]]) -> HeaderMap:
        """Build from already validated wire pairs (original-case name, value), without checks.

        For protocol drivers whose parser validated the fields; user input goes through
        :meth:`validated` or the constructor. A ``list`` is kept as it is (not copied) until
        the map is first read or changed: the caller must not modify it afterwards.
        """
        self = _new(cls)
        self._raw = items if type(items) is list else list(items)
        self._ents = None
        self._index = None
        return self

    def _materialize(self) -> list[tuple[bytes, bytes, bytes]]:
        raw = self._raw
        assert raw is not None
        entries = [(n, n.lower(), v) for n, v in raw]
        self._ents = entries
        self._raw = None
        return entries

    @property
    def _entries(self) -> list[tuple[bytes, bytes, bytes]]:
        entries = self._ents
        if entries is None:
            return self._materialize()
        return entries

    @_entries.setter
    def _entries(self, entries: list[tuple[bytes, bytes, bytes]]) -> None:
        self._ents = entries
        self._raw = None

    @classmethod
    def validated(cls, items: HeaderItems) -> HeaderMap:
        """Build from user input, checking every name and value (same as the constructor)."""
        return cls(items)

    def copy(self) -> HeaderMap:
        """A shallow copy (entries are immutable, so the copy is independent)."""
        new = HeaderMap.__new__(HeaderMap)
        raw = self._raw
        if raw is not None:  # neither map ever modifies the shared pairs (see from_raw)
            new._raw = raw
            new._ents = None
        else:
            new._ents = list(self._entries)
            new._raw = None
        new._index = None
        return new

    __copy__ = copy

    # -- index -----------------------------------------------------------------------------

    def _idx(self) -> dict[bytes, list[int]]:
        idx = self._index
        if idx is None:
            idx = {}
            for i, entry in enumerate(self._entries):
                positions = idx.get(entry[1])
                if positions is None:
                    idx[entry[1]] = [i]
                else:
                    positions.append(i)
            self._index = idx
        return idx

    # -- reading ---------------------------------------------------------------------------

    def get_raw(self, name: HeaderName) -> bytes | None:
        """The first value of *name* as bytes, or ``None``."""
        key = _key(name)
        entries = self._ents
        if entries is None:
            entries = self._materialize()
        if self._index is None and len(entries) <= _SCAN_MAX:
            for entry in entries:
                if entry[1] == key:
                    return entry[2]
            return None
        positions = self._idx().get(key)
        if positions is None:
            return None
        return entries[positions[0]][2]

    def get_all_raw(self, name: HeaderName) -> list[bytes]:
        """Every value of *name* as bytes, in order (empty if absent)."""
        key = _key(name)
        entries = self._ents
        if entries is None:
            entries = self._materialize()
        if self._index is None and len(entries) <= _SCAN_MAX:
            return [entry[2] for entry in entries if entry[1] == key]
        positions = self._idx().get(key)
        if positions is None:
            return []
        return [entries[i][2] for i in positions]

    def get(self, name: HeaderName, default: str | None = None) -> str | None:
        """The first value of *name* (Latin-1 text), or *default*."""
        raw = self.get_raw(name)
        return default if raw is None else raw.decode("latin-1")

    def get_all(self, name: HeaderName) -> list[str]:
        """Every value of *name* (Latin-1 text), in order."""
        return [v.decode("latin-1") for v in self.get_all_raw(name)]

    def get_joined(self, name: HeaderName, separator: str = ", ") -> str | None:
        """All values of *name* joined with *separator* (the list form of RFC 9110 5.3)."""
        values = self.get_all_raw(name)
        if not values:
            return None
        return separator.join(v.decode("latin-1") for v in values)

    def __getitem__(self, name: HeaderName) -> str:
        """The first value of *name*; ``KeyError`` if absent."""
        raw = self.get_raw(name)
        if raw is None:
            raise KeyError(name)
        return raw.decode("latin-1")

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str | bytes):
            return False
        key = _key(name)
        entries = self._ents
        if entries is None:
            entries = self._materialize()
        if self._index is None and len(entries) <= _SCAN_MAX:
            return any(entry[1] == key for entry in entries)
        return key in self._idx()

    def __len__(self) -> int:
        """The number of fields (a name with two values counts twice)."""
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """Every (original-case name, value) pair in order, as Latin-1 text."""
        for raw, _, value in self._entries:
            yield raw.decode("latin-1"), value.decode("latin-1")

    def items(self) -> list[tuple[str, str]]:
        """Every (original-case name, value) pair in order, as Latin-1 text."""
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, _, v in self._entries]

    def raw_items(self) -> list[tuple[bytes, bytes]]:
        """Every (original-case name, value) pair in order, as bytes: what goes on the wire."""
        raw = self._raw
        if raw is not None:
            return list(raw)
        return [(n, v) for n, _, v in self._entries]

    def lower_items(self) -> list[tuple[bytes, bytes]]:
        """Every (lowercase name, value) pair in order, as bytes (the HTTP/2 and HTTP/3 form)."""
        return [(k, v) for _, k, v in self._entries]

    def names(self) -> list[str]:
        """Each distinct name once, in order of first appearance, in its first original case."""
        seen: set[bytes] = set()
        out: list[str] = []
        for raw, low, _ in self._entries:
            if low not in seen:
                seen.add(low)
                out.append(raw.decode("latin-1"))
        return out

    def count(self, name: HeaderName) -> int:
        """How many values *name* has."""
        positions = self._idx().get(_key(name))
        return 0 if positions is None else len(positions)

    # -- writing ---------------------------------------------------------------------------

    def add(self, name: HeaderName, value: HeaderValue) -> None:
        """Append a field (validated); other values of the same name are kept."""
        n = check_header_name(name)
        v = check_header_value(value)
        low = n.lower()
        idx = self._index
        if idx is not None:
            positions = idx.get(low)
            if positions is None:
                idx[low] = [len(self._entries)]
            else:
                positions.append(len(self._entries))
        self._entries.append((n, low, v))

    append = add

    def set(self, name: HeaderName, value: HeaderValue) -> None:
        """Replace every value of *name* with *value* (validated).

        The field stays where the first value was and keeps that value's name case; if the
        name was absent, the field is appended with *name* as given.
        """
        n = check_header_name(name)
        v = check_header_value(value)
        low = n.lower()
        positions = self._idx().get(low)
        if positions is None:
            self.add(n, v)
            return
        entries = self._entries
        first = positions[0]
        entries[first] = (entries[first][0], low, v)
        if len(positions) > 1:
            drop = set(positions[1:])
            self._entries = [e for i, e in enumerate(entries) if i not in drop]
            self._index = None

    __setitem__ = set

    def setdefault(self, name: HeaderName, value: HeaderValue) -> str:
        """Add *name* with *value* if absent; return the (first) value now stored."""
        raw = self.get_raw(name)
        if raw is None:
            self.add(name, value)
            return check_header_value(value).decode("latin-1")
        return raw.decode("latin-1")

    def remove(self, name: HeaderName) -> int:
        """Remove every value of *name*; return how many were removed."""
        low = _key(name)
        positions = self._idx().get(low)
        if positions is None:
            return 0
        self._entries = [e for e in self._entries if e[1] != low]
        self._index = None
        return len(positions)

    def __delitem__(self, name: HeaderName) -> None:
        if not self.remove(name):
            raise KeyError(name)

    def pop(self, name: HeaderName, default: str | None = None) -> str | None:
        """Remove every value of *name* and return the first one (or *default*)."""
        first = self.get(name)
        if first is None:
            return default
        self.remove(name)
        return first

    def extend(self, items: HeaderItems | HeaderMap) -> None:
        """Append every pair of *items* (validated; a :class:`HeaderMap` is trusted as is)."""
        if isinstance(items, HeaderMap):
            self._entries.extend(items._entries)
            self._index = None
            return
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            self.add(name, value)

    def clear(self) -> None:
        """Remove every field."""
        self._entries = []
        self._raw = None
        self._index = None

    # -- typed headers ---------------------------------------------------------------------

    def typed_get(self, header: type[T]) -> T | None:
        """Decode the typed *header* from every value of its name; ``None`` if absent.

        Raises :class:`~pyrama_http_types.errors.TypedHeaderError` if the values do not parse.
        """
        values = self.get_all_raw(header.name)
        if not values:
            return None
        try:
            return header.decode([v.decode("latin-1") for v in values])
        except TypedHeaderError:
            raise
        except (ValueError, IndexError) as exc:
            raise TypedHeaderError(f"invalid {header.name} header: {exc}") from exc

    def typed_try_get(self, header: type[T]) -> T | None:
        """Like :meth:`typed_get`, but ``None`` when the values do not parse."""
        try:
            return self.typed_get(header)
        except TypedHeaderError:
            return None

    def typed_insert(self, value: TypedHeader) -> None:
        """Set the header of *value*'s type to its encoded form (replacing earlier values)."""
        self.set(type(value).name, value.encode())

    # -- misc ------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Equal when the same (case-insensitive name, value) fields appear in the same order."""
        if not isinstance(other, HeaderMap):
            return NotImplemented
        a = self._entries
        b = other._entries
        return len(a) == len(b) and all(
            x[1] == y[1] and x[2] == y[2] for x, y in zip(a, b, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for raw, low, value in self._entries:
            shown = "<redacted>" if low in _SENSITIVE else value.decode("latin-1")
            parts.append(f"{raw.decode('latin-1')!r}: {shown!r}")
        return "HeaderMap({" + ", ".join(parts) + "})"
