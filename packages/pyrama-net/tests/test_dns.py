"""DNS resolvers: protocol, errors, overrides, system and dnspython (against a local server)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import cast

import dns.asyncresolver
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net import (
    ChainResolver,
    DenyAllResolver,
    DnsNoRecordsError,
    DnsOverrides,
    DnspythonResolver,
    DnsResolver,
    DnsTimeoutError,
    StaticResolver,
    SystemResolver,
    ip_literal,
)
from pyrama_net.errors import DnsError

# --- a tiny authoritative DNS server on 127.0.0.1 ---------------------------------------------

ZONE: dict[tuple[str, str], list[str]] = {
    ("example.test.", "A"): ["192.0.2.1", "192.0.2.2"],
    ("example.test.", "AAAA"): ["2001:db8::1"],
    ("example.test.", "TXT"): ['"v=spf1 -all"', '"part one " "part two"'],
    ("v4only.test.", "A"): ["192.0.2.9"],
    ("alias.test.", "CNAME"): ["example.test."],
}
SERVFAIL = "broken.test."
SILENT = "silent.test."


class FakeDnsServer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.queries: list[tuple[str, str]] = []
        self.transports: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # 3.11's selector datagram transport does not subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.answer(data, "udp")
        if reply is not None:
            assert self.transport is not None
            self.transport.sendto(reply, addr)

    async def serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = int.from_bytes(await reader.readexactly(2), "big")
            reply = self.answer(await reader.readexactly(size), "tcp")
            if reply is not None:
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        finally:
            writer.close()

    def answer(self, data: bytes, transport: str) -> bytes | None:
        self.transports.append(transport)
        query = dns.message.from_wire(data)
        question = query.question[0]
        qname = question.name.to_text().lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((qname, qtype))
        if qname == SILENT:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if qname == SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif not any(name == qname for name, _ in ZONE):
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            name = qname
            cname = ZONE.get((name, "CNAME"))
            if cname is not None:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", *cname))
                name = cname[0]
            values = ZONE.get((name, qtype))
            if values:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", qtype, *values))
        wire: bytes = response.to_wire()
        return wire


@pytest.fixture
async def dns_server() -> AsyncIterator[tuple[FakeDnsServer, int]]:
    loop = asyncio.get_running_loop()
    # the UDP port is picked by the kernel; the same TCP port may be taken by another
    # process, so try a few UDP ports until the TCP bind succeeds too
    for _ in range(50):
        transport, proto = await loop.create_datagram_endpoint(
            FakeDnsServer, local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        try:
            tcp = await asyncio.start_server(proto.serve_tcp, "127.0.0.1", port)
        except OSError:
            transport.close()
            continue
        break
    else:
        pytest.fail("no UDP+TCP port pair free on 127.0.0.1")
    try:
        yield proto, port
    finally:
        transport.close()
        tcp.close()
        await tcp.wait_closed()


def resolver_for(port: int, **kw: object) -> DnspythonResolver:
    return DnspythonResolver([("127.0.0.1", port)], **kw)  # type: ignore[arg-type]


# --- dnspython -----------------------------------------------------------------------------


async def test_dnspython_answers_a_aaaa_txt(dns_server: tuple[FakeDnsServer, int]) -> None:
    _, port = dns_server
    r = resolver_for(port)
    # an RRset is a set: its order on the wire is not guaranteed
    assert sorted(await r.ipv4_lookup("example.test")) == [
        IPv4Address("192.0.2.1"),
        IPv4Address("192.0.2.2"),
    ]
    assert await r.ipv6_lookup("EXAMPLE.test.") == [IPv6Address("2001:db8::1")]
    assert sorted(await r.txt_lookup("example.test")) == [b"part one part two", b"v=spf1 -all"]
    assert isinstance(r, DnsResolver)


async def test_dnspython_follows_cname(dns_server: tuple[FakeDnsServer, int]) -> None:
    _, port = dns_server
    r = resolver_for(port)
    assert await r.ipv6_lookup("alias.test") == [IPv6Address("2001:db8::1")]


async def test_dnspython_nxdomain(dns_server: tuple[FakeDnsServer, int]) -> None:
    _, port = dns_server
    with pytest.raises(DnsNoRecordsError, match=r"nope\.test") as info:
        await resolver_for(port).ipv4_lookup("nope.test")
    assert info.value.nxdomain
    assert info.value.name == "nope.test"
    assert info.value.record_type == "A"
    assert info.value.__cause__ is not None


async def test_dnspython_no_answer(dns_server: tuple[FakeDnsServer, int]) -> None:
    _, port = dns_server
    with pytest.raises(DnsNoRecordsError, match=r"v4only\.test") as info:
        await resolver_for(port).ipv6_lookup("v4only.test")
    assert not info.value.nxdomain
    assert info.value.record_type == "AAAA"


async def test_dnspython_servfail_is_dns_error(dns_server: tuple[FakeDnsServer, int]) -> None:
    _, port = dns_server
    with pytest.raises(DnsError, match=r"broken\.test") as info:
        await resolver_for(port).ipv4_lookup("broken.test")
    assert not isinstance(info.value, DnsNoRecordsError)


async def test_dnspython_timeout(dns_server: tuple[FakeDnsServer, int]) -> None:
    _, port = dns_server
    r = resolver_for(port, timeout=0.05, lifetime=0.2)
    with pytest.raises(DnsTimeoutError, match=r"silent\.test") as info:
        await r.ipv4_lookup("silent.test")
    assert isinstance(info.value, PyramaTimeoutError)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, DnsError)


async def test_dnspython_cache_avoids_second_query(dns_server: tuple[FakeDnsServer, int]) -> None:
    server, port = dns_server
    r = resolver_for(port)
    await r.ipv4_lookup("example.test")
    await r.ipv4_lookup("example.test")
    assert server.queries.count(("example.test.", "A")) == 1
    uncached = resolver_for(port, cache=0)
    await uncached.ipv4_lookup("example.test")
    await uncached.ipv4_lookup("example.test")
    assert server.queries.count(("example.test.", "A")) == 3


async def test_dnspython_ip_literals_skip_the_network(
    dns_server: tuple[FakeDnsServer, int],
) -> None:
    server, port = dns_server
    r = resolver_for(port)
    assert await r.ipv4_lookup("10.1.2.3") == [IPv4Address("10.1.2.3")]
    assert await r.ipv6_lookup("[::1]") == [IPv6Address("::1")]
    with pytest.raises(DnsNoRecordsError):
        await r.ipv6_lookup("10.1.2.3")
    assert server.queries == []


async def test_dnspython_over_tcp(dns_server: tuple[FakeDnsServer, int]) -> None:
    server, port = dns_server
    r = resolver_for(port, tcp=True)
    assert await r.ipv6_lookup("example.test") == [IPv6Address("2001:db8::1")]
    with pytest.raises(DnsNoRecordsError):
        await r.ipv4_lookup("nope.test")
    assert server.transports == ["tcp", "tcp"]


def test_dnspython_system_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    r = DnspythonResolver()  # reads /etc/resolv.conf; nothing is sent
    assert repr(r).startswith("DnspythonResolver(")
    DnspythonResolver(["https://dns.example/dns-query", "::1"])  # DoH URLs are accepted

    def no_config(self: object, configure: bool = True) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")  # type: ignore[no-untyped-call]

    monkeypatch.setattr(dns.asyncresolver.Resolver, "__init__", no_config)
    with pytest.raises(ConfigError, match="system DNS configuration"):
        DnspythonResolver()


def test_dnspython_config_validation() -> None:
    with pytest.raises(ConfigError):
        DnspythonResolver([])
    with pytest.raises(ConfigError):
        DnspythonResolver(["not-an-ip"])
    with pytest.raises(ConfigError):
        DnspythonResolver([("127.0.0.1", 0)])
    with pytest.raises(ConfigError):
        DnspythonResolver(["127.0.0.1"], timeout=0)
    with pytest.raises(ConfigError):
        DnspythonResolver(["127.0.0.1"], cache=-1)


# --- system resolver ------------------------------------------------------------------------


async def test_system_resolver_localhost() -> None:
    r = SystemResolver()
    assert IPv4Address("127.0.0.1") in await r.ipv4_lookup("localhost")
    assert await r.ipv6_lookup("::1") == [IPv6Address("::1")]
    with pytest.raises(DnsError, match="TXT"):
        await r.txt_lookup("localhost")


async def test_system_resolver_maps_gaierror(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def nxdomain(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def failing(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_FAIL, "Non-recoverable failure in name resolution")

    monkeypatch.setattr(loop, "getaddrinfo", nxdomain)
    with pytest.raises(DnsNoRecordsError, match=r"nowhere\.invalid"):
        await SystemResolver().ipv4_lookup("nowhere.invalid")
    monkeypatch.setattr(loop, "getaddrinfo", failing)
    with pytest.raises(DnsError, match=r"nowhere\.invalid") as info:
        await SystemResolver().ipv6_lookup("nowhere.invalid")
    assert not isinstance(info.value, DnsNoRecordsError)
    assert isinstance(info.value.__cause__, socket.gaierror)


async def test_system_resolver_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def hang(*args: object, **kwargs: object) -> object:
        await asyncio.Event().wait()
        raise AssertionError

    monkeypatch.setattr(loop, "getaddrinfo", hang)
    with pytest.raises(DnsTimeoutError):
        await SystemResolver(timeout=0.05).ipv4_lookup("slow.invalid")
    with pytest.raises(ConfigError):
        SystemResolver(timeout=0)


async def test_system_resolver_dedupes(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def twice(*args: object, **kwargs: object) -> object:
        entry = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 0))
        other = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.2", 0))
        return [entry, other, entry]

    monkeypatch.setattr(loop, "getaddrinfo", twice)
    assert await SystemResolver().ipv4_lookup("x.invalid") == [
        IPv4Address("10.0.0.1"),
        IPv4Address("10.0.0.2"),
    ]


# --- overrides, static, deny, chain ---------------------------------------------------------


async def test_overrides_answer_and_fall_back() -> None:
    fallback = StaticResolver({"other.test": ["10.9.9.9"]}, txt={"other.test": ["hello"]})
    r = DnsOverrides({"Example.COM.": ["127.0.0.1", "::1", "127.0.0.1"]}, fallback=fallback)
    assert await r.ipv4_lookup("example.com") == [IPv4Address("127.0.0.1")]
    assert await r.ipv6_lookup("EXAMPLE.com.") == [IPv6Address("::1")]
    assert await r.ipv4_lookup("other.test") == [IPv4Address("10.9.9.9")]
    assert await r.txt_lookup("other.test") == [b"hello"]
    assert r.fallback is fallback


async def test_override_without_family_does_not_fall_back() -> None:
    fallback = StaticResolver({"example.com": ["2001:db8::5"]})
    r = DnsOverrides({"example.com": ["127.0.0.1"]}, fallback=fallback)
    with pytest.raises(DnsNoRecordsError) as info:
        await r.ipv6_lookup("example.com")
    assert not info.value.nxdomain


async def test_static_resolver_unknown_name_is_nxdomain() -> None:
    r = StaticResolver({"a.test": ["10.0.0.1"]}, txt={"a.test": []})
    with pytest.raises(DnsNoRecordsError) as info:
        await r.ipv4_lookup("b.test")
    assert info.value.nxdomain
    with pytest.raises(DnsNoRecordsError):
        await r.txt_lookup("a.test")
    with pytest.raises(ConfigError, match="not an IP"):
        StaticResolver({"a.test": ["nope"]})


async def test_deny_all_denies_names_but_not_literals() -> None:
    r = DenyAllResolver()
    with pytest.raises(DnsError, match="denied"):
        await r.ipv4_lookup("example.com")
    with pytest.raises(DnsError, match="denied"):
        await r.txt_lookup("example.com")
    assert await r.ipv4_lookup("192.0.2.7") == [IPv4Address("192.0.2.7")]
    assert await r.ipv6_lookup("2001:db8::7") == [IPv6Address("2001:db8::7")]


async def test_chain_resolver_falls_through() -> None:
    first = StaticResolver({"a.test": ["10.0.0.1"]})
    second = StaticResolver({"b.test": ["10.0.0.2"]})
    r = ChainResolver([DenyAllResolver(), first, second])
    assert await r.ipv4_lookup("b.test") == [IPv4Address("10.0.0.2")]
    with pytest.raises(DnsError, match=r"c\.test") as info:
        await r.ipv4_lookup("c.test")
    assert not isinstance(info.value, DnsNoRecordsError)  # the deny was not "no records"
    assert isinstance(info.value.__cause__, ExceptionGroup)
    assert len(info.value.__cause__.exceptions) == 3
    only_static = ChainResolver([first, second])
    with pytest.raises(DnsNoRecordsError) as nx:
        await only_static.ipv6_lookup("c.test")
    assert nx.value.nxdomain
    with pytest.raises(ConfigError):
        ChainResolver([])


# --- ip literal parsing ---------------------------------------------------------------------


@given(st.ip_addresses())
def test_ip_literal_roundtrip(ip: IPv4Address | IPv6Address) -> None:
    assert ip_literal(str(ip)) == ip
    if ip.version == 6:
        assert ip_literal(f"[{ip}]") == ip


@given(st.text())
def test_ip_literal_never_raises(text: str) -> None:
    result = ip_literal(text)
    if result is not None:
        stripped = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        assert result == ip_address(stripped)


@pytest.mark.parametrize("name", ["example.com", "", "1.2.3", "[example.com]", "::g", "1e100"])
def test_ip_literal_rejects_names(name: str) -> None:
    assert ip_literal(name) is None
