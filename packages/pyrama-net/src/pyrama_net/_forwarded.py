"""The Forwarded model (RFC 7239) and the X-Forwarded-For / X-Real-IP family."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from pyrama_net._host import IpAddress
from pyrama_net.errors import AddressError

__all__ = [
    "ClientIp",
    "Forwarded",
    "ForwardedElement",
    "ForwardedNode",
    "IpNetworks",
    "parse_forwarded",
    "parse_x_forwarded_for",
    "resolve_client_ip",
]

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_OBF: Final = re.compile(r"_[A-Za-z0-9._\-]+")
_PORT: Final = re.compile(r"[0-9]{1,5}")
_MAX_ELEMENTS: Final = 64
"""A header listing more hops than this is refused (parsing work stays bounded)."""


def _ip(text: str) -> IpAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise AddressError(f"not an IP address: {text!r}") from exc


def _port(text: str) -> int:
    if _PORT.fullmatch(text) is None or int(text) > 65535:
        raise AddressError(f"not a port: {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class ForwardedNode:
    """A ``for=`` / ``by=`` node of RFC 7239 section 6.

    An IP address (maybe with a port), ``unknown``, or an obfuscated ``_identifier``.
    """

    ip: IpAddress | None = None
    """The address, when the node is one."""
    port: int | None = None
    """The port, when given as a number."""
    name: str | None = None
    """``unknown`` or an obfuscated ``_identifier`` (when :attr:`ip` is ``None``)."""
    obfuscated_port: str | None = None
    """An obfuscated port (``_abc``), if one was given."""

    def __post_init__(self) -> None:
        if (self.ip is None) == (self.name is None):
            raise AddressError("a node is either an IP address or a name")
        if self.name is not None and self.name != "unknown" and not _OBF.fullmatch(self.name):
            raise AddressError(f"a node name is 'unknown' or '_obfuscated', got {self.name!r}")

    @classmethod
    def parse(cls, text: str) -> ForwardedNode:
        """Parse an unquoted node; :class:`~pyrama_net.errors.AddressError` if invalid.

        ``192.0.2.1``, ``192.0.2.1:80``, ``[2001:db8::1]:4711``, ``unknown``, ``_hidden``,
        ``_hidden:_port``.
        """
        port_text: str | None = None
        if text.startswith("["):
            end = text.find("]")
            if end < 0:
                raise AddressError(f"unclosed '[' in node {text!r}")
            host, rest = text[1:end], text[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise AddressError(f"junk after ']' in node {text!r}")
                port_text = rest[1:]
            ip = _ip(host)
            if ip.version != 6:
                raise AddressError(f"brackets hold IPv6 addresses only: {text!r}")
            node_ip: IpAddress | None = ip
            name = None
        else:
            host, colon, rest = text.partition(":")
            if colon:
                port_text = rest
            if host == "unknown" or host.startswith("_"):
                node_ip, name = None, host
            else:
                ip = _ip(host)
                if ip.version != 4:
                    raise AddressError(f"an IPv6 node must be in brackets: {text!r}")
                node_ip, name = ip, None
        port = obf = None
        if port_text is not None:
            if port_text.startswith("_"):
                if not _OBF.fullmatch(port_text):
                    raise AddressError(f"bad obfuscated port in {text!r}")
                obf = port_text
            else:
                port = _port(port_text)
        return cls(node_ip, port, name, obf)

    def encode(self) -> str:
        """The node as written in a header value (quoted when it needs to be)."""
        if self.ip is not None:
            host = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        else:
            host = str(self.name)
        if self.port is not None:
            host += f":{self.port}"
        elif self.obfuscated_port is not None:
            host += f":{self.obfuscated_port}"
        return host if _TOKEN.fullmatch(host) else f'"{host}"'

    def __str__(self) -> str:
        return self.encode().strip('"')


@dataclass(frozen=True, slots=True)
class ForwardedElement:
    """One hop of a ``Forwarded`` header: ``for``, ``by``, ``host`` and ``proto``."""

    for_: ForwardedNode | None = None
    """The client side of this hop (``for=``)."""
    by: ForwardedNode | None = None
    """The proxy's own interface (``by=``)."""
    host: str | None = None
    """The ``Host`` the proxy received (``host=``)."""
    proto: str | None = None
    """The scheme the proxy received (``proto=``: ``http`` or ``https``), lower case."""

    def encode(self) -> str:
        """``for=...;by=...;host=...;proto=...`` (pairs that are set)."""
        pairs: list[str] = []
        if self.for_ is not None:
            pairs.append(f"for={self.for_.encode()}")
        if self.by is not None:
            pairs.append(f"by={self.by.encode()}")
        if self.host is not None:
            pairs.append(f"host={_quote(self.host)}")
        if self.proto is not None:
            pairs.append(f"proto={self.proto}")
        return ";".join(pairs)


def _quote(value: str) -> str:
    if _TOKEN.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split_elements(text: str) -> list[list[tuple[str, str]]]:
    """Tokenize a Forwarded value into elements of (name, value) pairs (values unquoted)."""
    elements: list[list[tuple[str, str]]] = [[]]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
            continue
        if c == ",":
            elements.append([])
            if len(elements) > _MAX_ELEMENTS:
                raise AddressError(f"more than {_MAX_ELEMENTS} Forwarded elements")
            i += 1
            continue
        if c == ";":
            i += 1
            continue
        m = _TOKEN.match(text, i)
        if m is None:
            raise AddressError(f"expected a parameter name at {i} in {text!r}")
        name = m.group().lower()
        i = m.end()
        if i >= n or text[i] != "=":
            raise AddressError(f"expected '=' after {name!r} in {text!r}")
        i += 1
        if i < n and text[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise AddressError(f"unterminated quoted string in {text!r}")
                ch = text[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise AddressError(f"dangling escape in {text!r}")
                    buf.append(text[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    i += 1
                    break
                if (ch < " " and ch != "\t") or ch == "\x7f":
                    raise AddressError(f"control character in {text!r}")
                buf.append(ch)
                i += 1
            value = "".join(buf)
        else:
            m = _TOKEN.match(text, i)
            if m is None:
                raise AddressError(f"expected a value for {name!r} in {text!r}")
            value = m.group()
            i = m.end()
        elements[-1].append((name, value))
        # after a pair: spaces, then ';' ',' or the end
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] not in ";,":
            raise AddressError(f"expected ';' or ',' at {i} in {text!r}")
    return elements


def parse_forwarded(values: str | Iterable[str]) -> Forwarded:
    """Parse ``Forwarded`` field value(s) (RFC 7239) into a :class:`Forwarded`.

    Several field lines are one list, in order. Parameter names are case-insensitive; a
    parameter given twice in one element, a malformed node or syntax errors raise
    :class:`~pyrama_net.errors.AddressError`. Unknown parameters are ignored; empty
    elements are skipped.
    """
    texts = [values] if isinstance(values, str) else list(values)
    out: list[ForwardedElement] = []
    for text in texts:
        for pairs in _split_elements(text):
            if not pairs:
                continue
            seen: dict[str, str] = {}
            for name, value in pairs:
                if name in seen:
                    raise AddressError(f"parameter {name!r} repeated in one Forwarded element")
                seen[name] = value
            proto = seen.get("proto")
            if proto is not None and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", proto) is None:
                raise AddressError(f"not a URI scheme: proto={proto!r}")
            out.append(
                ForwardedElement(
                    for_=ForwardedNode.parse(seen["for"]) if "for" in seen else None,
                    by=ForwardedNode.parse(seen["by"]) if "by" in seen else None,
                    host=seen.get("host"),
                    proto=proto.lower() if proto is not None else None,
                )
            )
            if len(out) > _MAX_ELEMENTS:
                raise AddressError(f"more than {_MAX_ELEMENTS} Forwarded elements")
    return Forwarded(tuple(out))


def parse_x_forwarded_for(values: str | Iterable[str]) -> list[ForwardedNode]:
    """Parse ``X-Forwarded-For`` (or ``X-Real-IP``, ``CF-Connecting-IP``) value(s).

    Comma-separated IP addresses, optionally with a port (``1.2.3.4:80``,
    ``[2001:db8::1]:80``); a bare IPv6 address is accepted too. Invalid entries raise
    :class:`~pyrama_net.errors.AddressError`.
    """
    texts = [values] if isinstance(values, str) else list(values)
    out: list[ForwardedNode] = []
    for text in texts:
        for item in text.split(","):
            item = item.strip(" \t")
            if not item:
                continue
            if len(out) >= _MAX_ELEMENTS:
                raise AddressError(f"more than {_MAX_ELEMENTS} X-Forwarded-For entries")
            if not item.startswith("[") and item.count(":") > 1:
                out.append(ForwardedNode(_ip(item)))
            else:
                node = ForwardedNode.parse(item)
                if node.ip is None:
                    raise AddressError(f"not an IP address: {item!r}")
                out.append(node)
    return out


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The hops a request went through, oldest (the client) first.

    Parse it with :func:`parse_forwarded` / :meth:`from_x_forwarded`, extend it with
    :meth:`with_element` and write it with :meth:`encode` (``Forwarded``) or
    :meth:`x_forwarded_for`.
    """

    elements: tuple[ForwardedElement, ...] = ()
    """The hops, client first."""

    @classmethod
    def parse(cls, values: str | Iterable[str]) -> Forwarded:
        """Same as :func:`parse_forwarded`."""
        return parse_forwarded(values)

    @classmethod
    def from_x_forwarded(
        cls,
        for_values: str | Iterable[str] = (),
        *,
        host: str | None = None,
        proto: str | None = None,
    ) -> Forwarded:
        """Build from ``X-Forwarded-For`` plus ``-Host`` and ``-Proto`` (the last hop's)."""
        nodes = parse_x_forwarded_for(for_values)
        if proto is not None:
            proto = proto.split(",")[-1].strip().lower() or None
        if host is not None:
            host = host.split(",")[-1].strip() or None
        elements = [ForwardedElement(for_=n) for n in nodes]
        if elements and (host is not None or proto is not None):
            last = elements[-1]
            elements[-1] = ForwardedElement(last.for_, last.by, host, proto)
        elif host is not None or proto is not None:
            elements.append(ForwardedElement(host=host, proto=proto))
        return cls(tuple(elements))

    def with_element(self, element: ForwardedElement) -> Forwarded:
        """A copy with *element* appended (the newest hop)."""
        return Forwarded((*self.elements, element))

    def encode(self) -> str:
        """The ``Forwarded`` field value."""
        return ", ".join(e.encode() for e in self.elements)

    def x_forwarded_for(self) -> str:
        """The ``X-Forwarded-For`` value: the hops' ``for`` IPs (others are skipped)."""
        return ", ".join(
            str(e.for_.ip) for e in self.elements if e.for_ is not None and e.for_.ip is not None
        )

    @property
    def client(self) -> ForwardedNode | None:
        """The first hop's ``for`` node (the original client, if every proxy is honest)."""
        for e in self.elements:
            if e.for_ is not None:
                return e.for_
        return None

    @property
    def host(self) -> str | None:
        """The first ``host`` given (what the client asked for)."""
        return next((e.host for e in self.elements if e.host is not None), None)

    @property
    def proto(self) -> str | None:
        """The first ``proto`` given (the client's scheme)."""
        return next((e.proto for e in self.elements if e.proto is not None), None)

    def __len__(self) -> int:
        return len(self.elements)


@dataclass(frozen=True, slots=True)
class IpNetworks:
    """A set of IP networks (trusted proxies): ``IpNetworks.parse("127.0.0.1", "10.0.0.0/8")``."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())
    """The networks."""

    @classmethod
    def parse(cls, *specs: str) -> IpNetworks:
        """Networks from CIDR or address strings; :class:`AddressError` on bad ones."""
        nets = []
        for spec in specs:
            try:
                nets.append(ipaddress.ip_network(spec, strict=False))
            except ValueError as exc:
                raise AddressError(f"not an IP network: {spec!r}") from exc
        return cls(tuple(nets))

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    def __bool__(self) -> bool:
        return bool(self.networks)


@dataclass(frozen=True, slots=True)
class ClientIp:
    """The client's address as resolved from the peer and trusted forwarding headers."""

    ip: IpAddress
    """The address."""
    port: int | None = None
    """The port, when known."""
    via_header: bool = False
    """Whether it came from a forwarding header (else it is the peer of the connection)."""

    def __str__(self) -> str:
        return str(self.ip)


def resolve_client_ip(
    chain: Sequence[ForwardedNode], peer: ForwardedNode | None, trusted: IpNetworks | None
) -> ClientIp | None:
    """The client address behind *peer*.

    Walks the hops *chain* (client first) backwards from the peer while each hop is a
    *trusted* proxy (``None``: trust every hop); an ``unknown`` or obfuscated hop stops
    the walk. ``None`` without a peer IP.
    """
    if peer is None or peer.ip is None:
        return None
    if trusted is not None and peer.ip not in trusted:
        return ClientIp(peer.ip, peer.port)
    candidate = peer
    via = False
    for node in reversed(chain):
        if node.ip is None:
            break  # unknown / obfuscated: cannot go further
        candidate, via = node, True
        if trusted is not None and node.ip not in trusted:
            break
    if candidate.ip is None:  # pragma: no cover - guarded above
        return None
    return ClientIp(candidate.ip, candidate.port, via)
