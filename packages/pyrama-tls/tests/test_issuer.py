"""DynamicIssuer: per-name minting, validation, LRU/TTL cache, wildcard, de-duplication."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509 import verification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrama_core.errors import ConfigError
from pyrama_net import Domain, Host
from pyrama_tls import (
    DEFAULT_ISSUER_CACHE_SIZE,
    CertificateAuthority,
    CertifiedKey,
    DynamicIssuer,
    generate_private_key,
)
from pyrama_tls.errors import CertificateError, CertificateNameError

HANG_GUARD = 30.0


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate("issuer test CA")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verify(ca: CertificateAuthority, ck: CertifiedKey, name: x509.GeneralName) -> None:
    store = verification.Store([ca.cert])
    builder = verification.PolicyBuilder().store(store)
    builder.build_server_verifier(name).verify(ck.leaf, list(ck.chain[1:]))  # type: ignore[arg-type]


def san_ips(ck: CertifiedKey) -> list[IPv4Address | IPv6Address]:
    san = ck.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [
        ip
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, IPv4Address | IPv6Address)
    ]


async def until(pred: Callable[[], bool]) -> None:
    for _ in range(int(HANG_GUARD * 1000)):
        if pred():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("hang guard")


def wait_until(pred: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not pred():
        assert time.monotonic() < deadline, "hang guard"
        time.sleep(0.001)


def test_mints_a_verifiable_leaf_per_name(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    ck = issuer.certified_key_for("www.example.com")
    assert ck.dns_names() == ["www.example.com"]
    verify(ca, ck, x509.DNSName("www.example.com"))
    bc = ck.leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not bc.ca
    assert ck.leaf.public_key() == issuer.leaf_key.public_key()
    other = issuer.certified_key_for("api.example.org")
    assert other.key is ck.key  # one shared leaf key
    assert other.leaf.serial_number != ck.leaf.serial_number
    assert issuer.max_entries == DEFAULT_ISSUER_CACHE_SIZE
    assert issuer.ca is ca


def test_cache_hit_returns_the_same_certificate(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    first = issuer.certified_key_for("example.com")
    assert issuer.certified_key_for("EXAMPLE.com.") is first
    assert issuer.certified_key_for(Domain("example.com")) is first
    assert issuer.certified_key_for(Host.parse("example.com")) is first
    stats = issuer.stats()
    assert (stats.misses, stats.hits, stats.issued, stats.size) == (1, 3, 1, 1)
    assert len(issuer) == 1


def test_ip_literals_get_ip_sans(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    v4 = issuer.certified_key_for("127.0.0.1")
    assert san_ips(v4) == [IPv4Address("127.0.0.1")]
    assert v4.dns_names() == []
    verify(ca, v4, x509.IPAddress(ip_address("127.0.0.1")))
    v6 = issuer.certified_key_for("[::1]")
    assert san_ips(v6) == [IPv6Address("::1")]
    assert issuer.certified_key_for("::1") is v6
    assert issuer.certified_key_for(IPv6Address("::1")) is v6
    assert issuer.certified_key_for(IPv4Address("127.0.0.1")) is v4
    zoned = issuer.certified_key_for("fe80::1%eth0")
    assert san_ips(zoned) == [IPv6Address("fe80::1")]


def test_unicode_sni_becomes_a_label(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    ck = issuer.certified_key_for("bücher.example")
    assert ck.dns_names() == ["xn--bcher-kva.example"]
    assert issuer.certified_key_for("xn--bcher-kva.example") is ck


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "exa mple.com",
        "evil.com\x00.good.com",
        "a..b",
        "*.example.com",
        "-x.example",
        "x" * 64 + ".example",
        "1.2.3.256",
        "example.com/path",
        "[::1",
        "a" * 2000,
    ],
)
def test_garbage_names_are_refused_not_signed(ca: CertificateAuthority, garbage: str) -> None:
    issuer = DynamicIssuer(ca)
    with pytest.raises(CertificateNameError):
        issuer.certified_key_for(garbage)
    assert issuer.stats().misses == 0
    assert len(issuer) == 0


async def test_garbage_names_are_refused_async(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    with pytest.raises(CertificateNameError):
        await issuer.get("bad name")
    with pytest.raises(CertificateNameError):
        issuer.certified_key_for(b"example.com")  # type: ignore[arg-type]


def test_lru_eviction(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca, max_entries=3)
    a = issuer.certified_key_for("a.example")
    issuer.certified_key_for("b.example")
    issuer.certified_key_for("c.example")
    assert issuer.certified_key_for("a.example") is a  # a is now most recently used
    issuer.certified_key_for("d.example")  # evicts b, the least recently used
    assert issuer.cached_names() == ["c.example", "a.example", "d.example"]
    assert issuer.stats().evictions == 1
    assert len(issuer) == 3
    assert issuer.certified_key_for("a.example") is a
    issuer.certified_key_for("b.example")  # minted again
    stats = issuer.stats()
    assert stats.issued == 5
    assert stats.evictions == 2
    assert stats.size == 3


def test_cache_size_limit_is_exact(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca, max_entries=1)
    issuer.certified_key_for("a.example")
    issuer.certified_key_for("b.example")
    assert issuer.cached_names() == ["b.example"]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_bad_max_entries(ca: CertificateAuthority, bad: Any) -> None:
    with pytest.raises(ConfigError, match="max_entries"):
        DynamicIssuer(ca, max_entries=bad)


@pytest.mark.parametrize("bad", [0, -3.0, "10"])
def test_bad_ttl(ca: CertificateAuthority, bad: Any) -> None:
    with pytest.raises(ConfigError, match="ttl"):
        DynamicIssuer(ca, ttl=bad)


def test_ttl_expires_entries(ca: CertificateAuthority) -> None:
    clock = FakeClock()
    issuer = DynamicIssuer(ca, ttl=60, clock=clock)
    first = issuer.certified_key_for("ttl.example")
    clock.now += 59
    assert issuer.certified_key_for("ttl.example") is first
    clock.now += 2
    second = issuer.certified_key_for("ttl.example")
    assert second is not first
    assert second.leaf.serial_number != first.leaf.serial_number
    assert issuer.stats().expirations == 1


def test_entries_are_reminted_halfway_through_validity(ca: CertificateAuthority) -> None:
    clock = FakeClock()
    issuer = DynamicIssuer(ca, validity=dt.timedelta(hours=2), clock=clock)
    first = issuer.certified_key_for("short.example")
    clock.now += 3500  # under half of two hours
    assert issuer.certified_key_for("short.example") is first
    clock.now += 200  # past half
    assert issuer.certified_key_for("short.example") is not first


def test_wildcard_siblings_share_one_certificate(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca, wildcard=True)
    a = issuer.certified_key_for("a.example.com")
    b = issuer.certified_key_for("b.example.com")
    assert a is b
    assert a.dns_names() == ["*.example.com"]
    verify(ca, a, x509.DNSName("b.example.com"))
    verify(ca, a, x509.DNSName("zzz.example.com"))
    apex = issuer.certified_key_for("example.com")  # two labels: no *.com
    assert apex.dns_names() == ["example.com"]
    deep = issuer.certified_key_for("x.y.example.com")
    assert deep.dns_names() == ["*.y.example.com"]
    single = issuer.certified_key_for("localhost")
    assert single.dns_names() == ["localhost"]
    ip = issuer.certified_key_for("10.1.2.3")
    assert san_ips(ip) == [IPv4Address("10.1.2.3")]
    assert issuer.cached_names() == [
        "*.example.com",
        "example.com",
        "*.y.example.com",
        "localhost",
        "10.1.2.3",
    ]


def test_cached_wildcard_key_is_not_a_valid_sni(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca, wildcard=True)
    issuer.certified_key_for("a.example.com")
    assert issuer.cached_names() == ["*.example.com"]
    with pytest.raises(CertificateNameError):
        issuer.certified_key_for("*.example.com")


def test_non_canonical_text_is_validated_before_lookup(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    ck = issuer.certified_key_for("Example.COM")
    assert issuer.cached_names() == ["example.com"]
    assert issuer.certified_key_for("example.com") is ck
    assert issuer.certified_key_for("EXAMPLE.COM.") is ck
    assert issuer.stats().hits == 2


def test_clear(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    first = issuer.certified_key_for("a.example")
    issuer.clear()
    assert len(issuer) == 0
    assert issuer.certified_key_for("a.example") is not first


def test_given_leaf_key_and_kind(ca: CertificateAuthority) -> None:
    key = generate_private_key("rsa-2048")
    issuer = DynamicIssuer(ca, leaf_key=key)
    assert issuer.certified_key_for("rsa.example").key is key
    ed = DynamicIssuer(ca, key_kind="ec-p384")
    assert ed.certified_key_for("p384.example").leaf.public_key() == ed.leaf_key.public_key()


class FlakyCa(CertificateAuthority):
    """A CA whose first issuance fails."""

    calls = 0

    def issue_for(self, *args: Any, **kwargs: Any) -> CertifiedKey:
        self.calls += 1
        if self.calls == 1:
            raise CertificateError("signing broke")
        return super().issue_for(*args, **kwargs)


def test_issuance_failure_reaches_caller_and_is_not_cached(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(FlakyCa(ca.cert, ca.key))
    with pytest.raises(CertificateError, match="signing broke"):
        issuer.certified_key_for("fail.example")
    assert len(issuer) == 0
    assert issuer.stats().failed == 1
    assert issuer.certified_key_for("fail.example").dns_names() == ["fail.example"]


class GatedCa(CertificateAuthority):
    """A CA whose issuance blocks until the test opens the gate (optionally then fails)."""

    def __init__(self, ca: CertificateAuthority, *, fail: bool = False) -> None:
        super().__init__(ca.cert, ca.key)
        self.gate = threading.Event()
        self.calls = 0
        self.fail = fail
        self.lock = threading.Lock()

    def issue_for(self, *args: Any, **kwargs: Any) -> CertifiedKey:
        with self.lock:
            self.calls += 1
        assert self.gate.wait(HANG_GUARD), "hang guard"
        if self.fail:
            raise CertificateError("no")
        return super().issue_for(*args, **kwargs)


def test_concurrent_threads_share_one_issuance(ca: CertificateAuthority) -> None:
    gated = GatedCa(ca)
    issuer = DynamicIssuer(gated)
    n = 16
    results: list[CertifiedKey] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(issuer.certified_key_for("same.example"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    wait_until(lambda: issuer.stats().coalesced == n - 1)
    gated.gate.set()
    for t in threads:
        t.join(HANG_GUARD)
    assert not errors
    assert len(results) == n
    assert all(r is results[0] for r in results)
    assert gated.calls == 1
    stats = issuer.stats()
    assert (stats.misses, stats.coalesced, stats.issued) == (1, n - 1, 1)


async def test_concurrent_tasks_share_one_issuance(ca: CertificateAuthority) -> None:
    gated = GatedCa(ca)
    issuer = DynamicIssuer(gated, offload=True)
    n = 50
    tasks = [asyncio.create_task(issuer.get("async.example")) for _ in range(n)]
    await until(lambda: not (issuer.stats().coalesced < n - 1))
    assert not any(t.done() for t in tasks)  # the event loop kept running meanwhile
    gated.gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), HANG_GUARD)
    assert all(r is results[0] for r in results)
    assert gated.calls == 1
    assert results[0].dns_names() == ["async.example"]
    assert await issuer.get("async.example") is results[0]


async def test_cancelled_waiter_does_not_cancel_the_issuance(ca: CertificateAuthority) -> None:
    gated = GatedCa(ca)
    issuer = DynamicIssuer(gated, offload=True)
    owner = asyncio.create_task(issuer.get("cancel.example"))
    waiter = asyncio.create_task(issuer.get("cancel.example"))
    other = asyncio.create_task(issuer.get("cancel.example"))
    await until(lambda: not (issuer.stats().coalesced < 2))
    waiter.cancel()
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gated.gate.set()
    ck = await asyncio.wait_for(other, HANG_GUARD)
    with pytest.raises(asyncio.CancelledError):
        await owner
    # The issuance the cancelled owner started still completed and was cached.
    assert await issuer.get("cancel.example") is ck
    assert gated.calls == 1


async def test_async_get_inline(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca)
    a, b = await asyncio.gather(issuer.get("inline.example"), issuer.get("inline.example"))
    assert a is b
    assert issuer.stats().issued == 1
    assert issuer.certified_key_for("inline.example") is a


async def test_async_failure_reaches_every_waiter(ca: CertificateAuthority) -> None:
    broken = GatedCa(ca, fail=True)
    issuer = DynamicIssuer(broken, offload=True)
    tasks = [asyncio.create_task(issuer.get("x.example")) for _ in range(3)]
    await until(lambda: not (issuer.stats().coalesced < 2))
    broken.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, CertificateError) for r in results)
    assert len(issuer) == 0


def test_repr(ca: CertificateAuthority) -> None:
    issuer = DynamicIssuer(ca, max_entries=7)
    assert "max_entries=7" in repr(issuer)


# -- property: any valid Domain yields a certificate whose SAN contains it ---------------------

_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"
label = st.text(_LABEL_CHARS, min_size=1, max_size=63).filter(
    lambda s: s[0] != "-" and s[-1] != "-" and not s.startswith("xn--")
)
unicode_label = st.text(st.characters(whitelist_categories=("Ll", "Lo")), min_size=1, max_size=10)


def _domain_or_none(labels: list[str]) -> Domain | None:
    try:
        return Domain(".".join(labels))
    except ValueError:
        return None


domains = (
    st.lists(st.one_of(label, unicode_label), min_size=1, max_size=5)
    .map(_domain_or_none)
    .filter(lambda d: d is not None)
)

_shared_ca = CertificateAuthority.generate("property CA")
_shared_issuer = DynamicIssuer(_shared_ca, max_entries=64)
_wild_issuer = DynamicIssuer(_shared_ca, max_entries=64, wildcard=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(domains)
def test_any_valid_domain_gets_a_cert_naming_it(domain: Domain | None) -> None:
    assert domain is not None
    ck = _shared_issuer.certified_key_for(domain)
    assert domain.name in ck.dns_names()
    assert _shared_issuer.certified_key_for(domain.name) is ck
    ck.leaf.verify_directly_issued_by(_shared_ca.cert)
    if len(domain.name) <= 64:
        cn = ck.leaf.subject.rfc4514_string()
        assert cn == f"CN={domain.name}"
    wild = _wild_issuer.certified_key_for(domain)
    (san,) = wild.dns_names()
    if len(domain.labels) >= 3:
        assert san == "*." + domain.name.partition(".")[2]
    else:
        assert san == domain.name


@settings(max_examples=100, deadline=None)
@given(st.ip_addresses())
def test_any_ip_gets_an_ip_san(ip: IPv4Address | IPv6Address) -> None:
    ck = _shared_issuer.certified_key_for(str(ip))
    assert san_ips(ck) == [ip]
