"""Extensions: a typed map carried by inputs and outputs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar, overload

__all__ = ["Extensions"]

T = TypeVar("T")
D = TypeVar("D")

_MISSING: Any = object()
_new = object.__new__


class Extensions:
    """A map from type to a value of that type.

    Per-connection and per-request data (the peer address, TLS facts, a parsed ClientHello,
    a request id) travel in ``Extensions`` on the input and output of a service instead of a
    context object. The newest :meth:`insert` of a type wins. :meth:`fork` makes a child whose
    look-ups fall through to its parent, so an h2 stream sees its connection's values without
    copying them, and values the child inserts never leak back into the parent.
    """

    __slots__ = ("_map", "_parent")

    def __init__(self, parent: Extensions | None = None) -> None:
        # made on the first insert: most per-request maps (a response's, a request's fork)
        # never get a value of their own
        self._map: dict[type[Any], Any] | None = None
        self._parent = parent

    @property
    def parent(self) -> Extensions | None:
        """The extensions this one falls through to, if it was made by :meth:`fork`."""
        return self._parent

    def insert(self, value: object, key: type[Any] | None = None) -> None:
        """Store *value* under its type (or under *key*, a supertype of it); newest wins."""
        k = type(value) if key is None else key
        if key is not None and not isinstance(value, key):
            raise TypeError(f"{value!r} is not an instance of {key.__name__}")
        m = self._map
        if m is None:
            self._map = {k: value}
        else:
            m[k] = value

    @overload
    def get(self, key: type[T]) -> T | None: ...
    @overload
    def get(self, key: type[T], default: D) -> T | D: ...
    def get(self, key: type[T], default: Any = None) -> Any:
        """Return the value stored for *key* here or in a parent, else *default*."""
        ext: Extensions | None = self
        while ext is not None:
            m = ext._map
            if m is not None:
                v = m.get(key, _MISSING)
                if v is not _MISSING:
                    return v
            ext = ext._parent
        return default

    def has_any(self, keys: frozenset[type[Any]] | set[type[Any]]) -> bool:
        """Whether a value for any of *keys* is stored here or in a parent (one walk).

        For a hot path that takes a fast lane unless one of a few types is present: one call
        instead of a :meth:`get` per type.
        """
        ext: Extensions | None = self
        while ext is not None:
            m = ext._map
            if m is not None and not keys.isdisjoint(m):
                return True
            ext = ext._parent
        return False

    def require(self, key: type[T]) -> T:
        """Return the value for *key*; raise ``KeyError`` naming the type if it is absent."""
        v = self.get(key, _MISSING)
        if v is _MISSING:
            raise KeyError(f"no {key.__name__} in extensions")
        return v

    def contains(self, key: type[Any]) -> bool:
        """Whether a value for *key* is stored here or in a parent."""
        return self.get(key, _MISSING) is not _MISSING

    __contains__ = contains

    def remove(self, key: type[T]) -> T | None:
        """Remove and return this map's own value for *key* (parents are untouched)."""
        m = self._map
        v: T | None = None if m is None else m.pop(key, None)
        return v

    def fork(self) -> Extensions:
        """A child whose look-ups fall through to this map."""
        if type(self) is not Extensions:  # a subclass gets its own constructor
            return type(self)(self)
        child: Extensions = _new(Extensions)  # once per request: no __init__ call
        child._map = None
        child._parent = self
        return child

    def extend(self, other: Extensions) -> None:
        """Insert every value visible in *other* (its own values override its parents')."""
        if other._parent is None:  # a root map (a stream's): its own values are all it shows
            om = other._map
            if om:
                m = self._map
                if m is None:
                    self._map = dict(om)
                else:
                    m.update(om)
            return
        m = self._map
        if m is None:
            m = self._map = {}
        for k, v in other.items():
            m[k] = v

    def items(self) -> Iterator[tuple[type[Any], Any]]:
        """Every visible (type, value) pair; a child's value hides its parent's."""
        seen: set[type[Any]] = set()
        ext: Extensions | None = self
        while ext is not None:
            m = ext._map
            if m is not None:
                for k, v in m.items():
                    if k not in seen:
                        seen.add(k)
                        yield k, v
            ext = ext._parent

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __repr__(self) -> str:
        names = ", ".join(k.__name__ for k, _ in self.items())
        return f"Extensions({names})"
