"""DynamicIssuer: mint a leaf certificate per server name on demand (for TLS MITM), cached.

A MITM proxy terminates the client's TLS with a certificate for whatever name the client asked
for (its SNI, or the CONNECT target). :class:`DynamicIssuer` signs such certificates with a
:class:`~pyrama_tls.CertificateAuthority` the clients trust, on first use, and keeps them in an
LRU cache. All leaves share one pre-generated key pair, so minting is a single signature (well
under a millisecond with an ECDSA CA) and no key generation happens on the handshake path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from cryptography import x509

from pyrama_core.errors import ConfigError
from pyrama_net import Domain, Host
from pyrama_net.errors import AddressError
from pyrama_tls._ca import CertificateAuthority
from pyrama_tls._cert_names import SanEntries, cert_ip
from pyrama_tls._certified_key import CertifiedKey
from pyrama_tls._certs import DEFAULT_LEAF_VALIDITY, check_validity, utc_now
from pyrama_tls._keys import DEFAULT_KEY_KIND, KeyKind, PrivateKey, check_private_key
from pyrama_tls._keys import generate_private_key as _generate_key
from pyrama_tls.errors import CertificateNameError

__all__ = ["DEFAULT_ISSUER_CACHE_SIZE", "DynamicIssuer", "IssuerStats", "ServerName"]

DEFAULT_ISSUER_CACHE_SIZE = 1024
"""How many certificates a :class:`DynamicIssuer` keeps by default."""

ServerName = str | Domain | Host | IPv4Address | IPv6Address
"""What a certificate can be requested for: SNI text, a domain, a host, or an IP address."""


@dataclass(frozen=True, slots=True)
class IssuerStats:
    """Counters of a :class:`DynamicIssuer` (a snapshot)."""

    hits: int
    """Look-ups answered from the cache."""
    misses: int
    """Look-ups that started an issuance."""
    coalesced: int
    """Look-ups that waited for an issuance already in flight for the same name."""
    issued: int
    """Certificates minted successfully."""
    failed: int
    """Issuances that raised."""
    evictions: int
    """Entries dropped because the cache was full (least recently used first)."""
    expirations: int
    """Entries dropped because their TTL (or half their certificate's validity) had passed."""
    size: int
    """Entries in the cache now."""


class _Entry:
    __slots__ = ("certified_key", "deadline")

    def __init__(self, certified_key: CertifiedKey, deadline: float) -> None:
        self.certified_key = certified_key
        self.deadline = deadline


class DynamicIssuer:
    """Issue and cache a leaf certificate per server name, signed by *ca*.

    * :meth:`certified_key_for` (blocking, thread-safe) and :meth:`get` (async) return the
      :class:`~pyrama_tls.CertifiedKey` for a name, minting it on first use. Concurrent
      requests for the same name, from threads or tasks, share one issuance.
    * Names are validated through :class:`~pyrama_net.Host`: a domain gets a DNS SAN (Unicode
      names become A-labels, case and a trailing dot are normalised), an IP literal (which
      clients sometimes send although SNI forbids it) gets an IP SAN. Anything else raises
      :class:`~pyrama_tls.errors.CertificateNameError`: a garbage SNI is never signed.
    * *max_entries* (default 1024) bounds the LRU cache; *ttl* (seconds) optionally expires
      entries. An entry is also re-minted once half of its certificate's validity has passed.
    * With *wildcard*, a name of three or more labels gets a certificate for ``*.<parent>``
      (``a.example.com`` -> ``*.example.com``), shared by its siblings. A wildcard covers one
      label only, and must not sit on a public suffix: without a public-suffix list,
      ``a.co.uk`` would yield ``*.co.uk``, which browsers refuse; keep *wildcard* off when
      clients visit such names.
    * Every leaf uses the same key pair, generated once (*key_kind*, ECDSA P-256 by default) or
      given as *leaf_key*, so minting costs one signature by the CA.
    * :meth:`get` signs in the event loop by default (a fraction of a millisecond with an
      ECDSA CA); with *offload* it signs in a worker thread, for slow (large RSA) CA keys.
    """

    def __init__(
        self,
        ca: CertificateAuthority,
        *,
        max_entries: int = DEFAULT_ISSUER_CACHE_SIZE,
        ttl: float | None = None,
        wildcard: bool = False,
        validity: dt.timedelta = DEFAULT_LEAF_VALIDITY,
        leaf_key: PrivateKey | None = None,
        key_kind: KeyKind = DEFAULT_KEY_KIND,
        offload: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
            raise ConfigError(f"max_entries must be an int >= 1, got {max_entries!r}")
        if ttl is not None and not (isinstance(ttl, int | float) and ttl > 0):
            raise ConfigError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
        self._ca = ca
        self._max_entries = max_entries
        self._ttl = math.inf if ttl is None else float(ttl)
        self._wildcard = wildcard
        self._validity = check_validity(validity)
        self._key = check_private_key(leaf_key) if leaf_key is not None else _generate_key(key_kind)
        self._ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self._offload = offload
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, Future[CertifiedKey]] = {}
        self._hits = self._misses = self._coalesced = 0
        self._issued = self._failed = self._evictions = self._expirations = 0

    def __repr__(self) -> str:
        return (
            f"DynamicIssuer(ca={self._ca.cert.subject.rfc4514_string()!r}, "
            f"size={len(self)}, max_entries={self._max_entries})"
        )

    @property
    def ca(self) -> CertificateAuthority:
        """The CA that signs the leaves."""
        return self._ca

    @property
    def leaf_key(self) -> PrivateKey:
        """The private key every issued leaf shares."""
        return self._key

    @property
    def max_entries(self) -> int:
        """The cache capacity."""
        return self._max_entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def stats(self) -> IssuerStats:
        """A snapshot of the issuer's counters."""
        with self._lock:
            return IssuerStats(
                hits=self._hits,
                misses=self._misses,
                coalesced=self._coalesced,
                issued=self._issued,
                failed=self._failed,
                evictions=self._evictions,
                expirations=self._expirations,
                size=len(self._cache),
            )

    def cached_names(self) -> list[str]:
        """The cache keys, least recently used first (``*.example.com`` for a wildcard entry)."""
        with self._lock:
            return list(self._cache)

    def clear(self) -> None:
        """Drop every cached certificate (issuances in flight still complete)."""
        with self._lock:
            self._cache.clear()

    def subject_for(self, server_name: ServerName) -> tuple[str, SanEntries]:
        """The cache key and SAN entries a certificate for *server_name* gets.

        Raise :class:`~pyrama_tls.errors.CertificateNameError` for a name that is not a valid
        domain or IP address.
        """
        value = _host_value(server_name)
        if isinstance(value, Domain):
            name = value.name
            if self._wildcard:
                labels = value.labels
                if len(labels) >= 3:
                    name = "*." + name.partition(".")[2]
            return name, SanEntries([name], [])
        ip = cert_ip(value)
        return str(ip), SanEntries([], [ip])

    def certified_key_for(self, server_name: ServerName) -> CertifiedKey:
        """The certificate for *server_name*, from the cache or freshly minted (blocking).

        Thread-safe; a caller that finds the same name being minted by another thread waits for
        that issuance instead of signing again.
        """
        cached = self._fast_hit(server_name)
        if cached is not None:
            return cached
        key, sans = self.subject_for(server_name)
        found, owner = self._claim(key)
        if isinstance(found, CertifiedKey):
            return found
        if owner:
            self._mint(key, sans, found)
        return found.result()

    async def get(self, server_name: ServerName) -> CertifiedKey:
        """The certificate for *server_name*, from the cache or freshly minted.

        Concurrent calls for the same name (in this or other event loops or threads) share one
        issuance. Cancelling a waiting call does not cancel the issuance others wait for.
        """
        cached = self._fast_hit(server_name)
        if cached is not None:
            return cached
        key, sans = self.subject_for(server_name)
        found, owner = self._claim(key)
        if isinstance(found, CertifiedKey):
            return found
        if owner:
            if self._offload:
                await asyncio.to_thread(self._mint, key, sans, found)
            else:
                self._mint(key, sans, found)
        if not found.done():
            return await asyncio.wrap_future(found)
        return found.result()

    def _fast_hit(self, server_name: ServerName) -> CertifiedKey | None:
        # Most SNI values arrive in canonical form (lowercase, no trailing dot), which is the
        # cache key itself: a cached name is answered without parsing it again. A key found
        # this way was validated when it was inserted. "*" never appears in a valid SNI, so
        # text starting with it (a wildcard key) always takes the validating path.
        if type(server_name) is not str or server_name[:1] == "*":
            return None
        with self._lock:
            return self._cached(server_name)

    def _cached(self, key: str) -> CertifiedKey | None:
        # Caller holds the lock.
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry.deadline > self._clock():
            self._cache.move_to_end(key)
            self._hits += 1
            return entry.certified_key
        del self._cache[key]
        self._expirations += 1
        return None

    def _claim(self, key: str) -> tuple[CertifiedKey | Future[CertifiedKey], bool]:
        # -> (cached certificate, False) | (future to wait on, whether we must mint it)
        with self._lock:
            cached = self._cached(key)
            if cached is not None:
                return cached, False
            pending = self._inflight.get(key)
            if pending is not None:
                self._coalesced += 1
                return pending, False
            future: Future[CertifiedKey] = Future()
            # A running future cannot be cancelled, so no waiter can cancel it for the others.
            future.set_running_or_notify_cancel()
            self._inflight[key] = future
            self._misses += 1
            return future, True

    def _mint(self, key: str, sans: SanEntries, future: Future[CertifiedKey]) -> None:
        try:
            certified = self._ca.issue_for(
                sans, key=self._key, validity=self._validity, subject_key_id=self._ski
            )
        except BaseException as exc:
            with self._lock:
                self._inflight.pop(key, None)
                self._failed += 1
            future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        remaining = (certified.leaf.not_valid_after_utc - utc_now()).total_seconds()
        with self._lock:
            self._inflight.pop(key, None)
            self._issued += 1
            self._cache[key] = _Entry(certified, self._clock() + min(self._ttl, remaining / 2))
            self._cache.move_to_end(key)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
                self._evictions += 1
        future.set_result(certified)


def _host_value(server_name: ServerName) -> Domain | IPv4Address | IPv6Address:
    if isinstance(server_name, Domain | IPv4Address | IPv6Address):
        return server_name
    if isinstance(server_name, Host):
        return server_name.value
    if not isinstance(server_name, str):
        raise CertificateNameError(
            f"a server name must be a str, Domain, Host or IP address, got "
            f"{type(server_name).__name__}"
        )
    try:
        return Host.parse(server_name).value
    except AddressError as exc:
        raise CertificateNameError(f"refusing to issue a certificate: {exc}") from exc
