"""A bounded cache that keeps an entry only once its key has been seen twice."""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["SeenTwiceCache"]

K = TypeVar("K")
V = TypeVar("V")


class SeenTwiceCache(Generic[K, V]):
    """Entries by key, kept the second time a key comes by, bounded in entries.

    For the codecs' caches of encoded or parsed heads: a key that never repeats (a request id
    in every head) only leaves its hash in :attr:`seen`, so such keys do not churn
    :attr:`entries` (nor keep values alive for the garbage collector). When either is full it
    is emptied and fills again with what is current. Look-ups read :attr:`entries` directly
    (a dict that stays the same object for the cache's life).
    """

    __slots__ = ("entries", "max_entries", "seen")

    def __init__(self, max_entries: int) -> None:
        self.entries: dict[K, V] = {}
        """What is kept."""
        self.max_entries = max_entries
        """The bound on :attr:`entries` (:attr:`seen` holds up to four times as many)."""
        self.seen: set[int] = set()
        """Hashes of keys seen once."""

    def seen_before(self, key: K) -> bool:
        """Whether *key* came by before; the first time, remember that it did."""
        h = hash(key)
        seen = self.seen
        if h in seen:
            return True
        if len(seen) >= 4 * self.max_entries:
            seen.clear()
        seen.add(h)
        return False

    def keep(self, key: K, value: V) -> None:
        """Store *value* for *key* (emptying the cache first when it is full)."""
        entries = self.entries
        if len(entries) >= self.max_entries:
            entries.clear()
        entries[key] = value
