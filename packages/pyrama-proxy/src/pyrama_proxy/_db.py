"""ProxyDB: where upstream proxies come from; MemoryProxyDB: an indexed in-memory set."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from pyrama_proxy._csv import load_proxy_csv, parse_proxy_csv
from pyrama_proxy._proxy import Proxy, ProxyFilter, normalize_value
from pyrama_proxy.errors import ProxyDBLoadError, ProxyNotFoundError

__all__ = ["MemoryProxyDB", "ProxyDB", "ProxyPredicate", "ProxySelection"]

ProxyPredicate = Callable[[Proxy], bool]
"""An extra per-proxy condition, e.g. ``lambda p: p.socks5h`` to require SOCKS5 support."""

_INDEXED = ("id", "pool_id", "continent", "country", "state", "city", "carrier")
_FLAGS = ("datacenter", "residential", "mobile")
_CACHE_LIMIT = 1024
"""How many distinct filters' candidate lists one snapshot remembers."""
_CURSOR_LIMIT = 4096
"""How many distinct filters' round-robin positions the database remembers."""


@runtime_checkable
class ProxyDB(Protocol):
    """A source of upstream proxies."""

    async def get_proxy(
        self, proxy_filter: ProxyFilter, predicate: ProxyPredicate | None = None
    ) -> Proxy:
        """Return a proxy that matches *proxy_filter* (and *predicate*, if given).

        Raises :class:`~pyrama_proxy.errors.ProxyNotFoundError` when none does.
        """
        ...


class ProxySelection(enum.Enum):
    """How :class:`MemoryProxyDB` picks among the proxies that match."""

    RANDOM = "random"
    """Uniformly at random, per pick."""
    ROUND_ROBIN = "round_robin"
    """In turn, per distinct filter (so each filter's matches are used evenly)."""


class _Snapshot:
    """An immutable proxy set with its indexes and a bounded cache of filter results."""

    __slots__ = ("asn", "cache", "flags", "index", "proxies")

    def __init__(self, proxies: tuple[Proxy, ...]) -> None:
        self.proxies = proxies
        self.index: dict[str, dict[str, list[int]]] = {name: {} for name in _INDEXED}
        self.asn: dict[int, list[int]] = {}
        self.flags: dict[str, list[int]] = {name: [] for name in _FLAGS}
        seen: set[str] = set()
        for i, proxy in enumerate(proxies):
            if proxy.id in seen:
                raise ProxyDBLoadError(f"duplicate proxy id {proxy.id!r}")
            seen.add(proxy.id)
            for name in _INDEXED:
                value: str | None = getattr(proxy, name)
                if value is not None:
                    self.index[name].setdefault(normalize_value(value), []).append(i)
            if proxy.asn is not None:
                self.asn.setdefault(proxy.asn, []).append(i)
            for name in _FLAGS:
                if getattr(proxy, name):
                    self.flags[name].append(i)
        self.cache: dict[ProxyFilter, tuple[Proxy, ...]] = {}

    def candidates(self, proxy_filter: ProxyFilter) -> tuple[Proxy, ...]:
        cached = self.cache.get(proxy_filter)
        if cached is not None:
            return cached
        result = self._compute(proxy_filter)
        if len(self.cache) >= _CACHE_LIMIT:
            del self.cache[next(iter(self.cache))]
        self.cache[proxy_filter] = result
        return result

    def _compute(self, proxy_filter: ProxyFilter) -> tuple[Proxy, ...]:
        sets: list[set[int]] = []
        for name in _INDEXED:
            accepted: tuple[str, ...] | None = getattr(proxy_filter, name)
            if accepted is not None:
                by_value = self.index[name]
                sets.append({i for value in accepted for i in by_value.get(value, ())})
        if proxy_filter.asn is not None:
            sets.append({i for asn in proxy_filter.asn for i in self.asn.get(asn, ())})
        negated: list[set[int]] = []
        for name in _FLAGS:
            flag: bool | None = getattr(proxy_filter, name)
            if flag is True:
                sets.append(set(self.flags[name]))
            elif flag is False:
                negated.append(set(self.flags[name]))
        if sets:
            sets.sort(key=len)
            chosen = sets[0].intersection(*sets[1:])
        else:
            chosen = set(range(len(self.proxies)))
        for excluded in negated:
            chosen -= excluded
        return tuple(self.proxies[i] for i in sorted(chosen))


class MemoryProxyDB:
    """An in-memory :class:`ProxyDB` with indexes, random or round-robin picks and live reload.

    Each attribute a :class:`~pyrama_proxy.ProxyFilter` can constrain is indexed when the set
    is loaded, and the matches of a filter are computed once per set (a bounded cache of 1024
    filters), so a pick costs a dictionary look-up, not a scan. :meth:`replace` (and
    :meth:`reload_csv`) swap in a new set atomically: a pick in progress sees the old set or
    the new one, never a mix, and an invalid new set leaves the old one in place.
    """

    __slots__ = ("_cursors", "_random", "_selection", "_snapshot")

    def __init__(
        self,
        proxies: Iterable[Proxy] = (),
        *,
        selection: ProxySelection = ProxySelection.RANDOM,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(selection, ProxySelection):
            raise TypeError("selection must be a ProxySelection")
        self._selection = selection
        self._random = rng if rng is not None else random.Random()
        self._cursors: dict[ProxyFilter, int] = {}
        self._snapshot = _Snapshot(tuple(proxies))

    @classmethod
    def from_csv(
        cls, path: str | Path, *, selection: ProxySelection = ProxySelection.RANDOM
    ) -> MemoryProxyDB:
        """Load a proxy CSV file (format: :data:`~pyrama_proxy.CSV_COLUMNS`)."""
        return cls(load_proxy_csv(path), selection=selection)

    @classmethod
    def from_csv_text(
        cls, text: str, *, selection: ProxySelection = ProxySelection.RANDOM
    ) -> MemoryProxyDB:
        """Load proxies from CSV text (format: :data:`~pyrama_proxy.CSV_COLUMNS`)."""
        return cls(parse_proxy_csv(text.splitlines()), selection=selection)

    @property
    def proxies(self) -> tuple[Proxy, ...]:
        """The current proxy set, in load order."""
        return self._snapshot.proxies

    def __len__(self) -> int:
        return len(self._snapshot.proxies)

    def replace(self, proxies: Iterable[Proxy]) -> None:
        """Swap in a new proxy set atomically (validated and indexed before the swap)."""
        snapshot = _Snapshot(tuple(proxies))
        self._snapshot = snapshot
        self._cursors = {}

    def reload_csv(self, path: str | Path) -> None:
        """Replace the set with a proxy CSV file's; on any error the current set stays."""
        self.replace(load_proxy_csv(path))

    def find(self, proxy_filter: ProxyFilter) -> tuple[Proxy, ...]:
        """Every proxy that matches *proxy_filter*, in load order."""
        return self._snapshot.candidates(proxy_filter)

    def pick(self, proxy_filter: ProxyFilter, predicate: ProxyPredicate | None = None) -> Proxy:
        """Pick a matching proxy now (the synchronous form of :meth:`get_proxy`).

        With a *predicate* the matches of the filter are checked one by one, so keep
        predicates for conditions the filter cannot express.
        """
        candidates = self._snapshot.candidates(proxy_filter)
        if predicate is not None:
            candidates = tuple(p for p in candidates if predicate(p))
        if not candidates:
            raise ProxyNotFoundError(f"no proxy matches {proxy_filter!r}")
        if len(candidates) == 1:
            return candidates[0]
        if self._selection is ProxySelection.RANDOM:
            return candidates[self._random.randrange(len(candidates))]
        cursors = self._cursors
        position = cursors.get(proxy_filter, 0)
        if position == 0 and len(cursors) >= _CURSOR_LIMIT:
            del cursors[next(iter(cursors))]
        cursors[proxy_filter] = position + 1
        return candidates[position % len(candidates)]

    async def get_proxy(
        self, proxy_filter: ProxyFilter, predicate: ProxyPredicate | None = None
    ) -> Proxy:
        """Pick a matching proxy (see :meth:`pick`)."""
        return self.pick(proxy_filter, predicate)

    def __repr__(self) -> str:
        return f"MemoryProxyDB({len(self)} proxies, {self._selection.value})"
