"""Forwarded layers: read the client behind proxies (server), write the headers (proxy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from pyrama_core.errors import ConfigError
from pyrama_http.layer._util import HttpService, plain_response
from pyrama_http_types import Request, Response
from pyrama_net import (
    ClientIp,
    Forwarded,
    ForwardedElement,
    ForwardedNode,
    IpNetworks,
    SocketInfo,
    parse_x_forwarded_for,
    resolve_client_ip,
)
from pyrama_net.errors import AddressError

__all__ = [
    "DEFAULT_TRUSTED_PROXIES",
    "ForwardedHeader",
    "ForwardedLayer",
    "ForwardedService",
    "SetForwardedHeaderLayer",
    "SetForwardedHeaderService",
]

ForwardedHeader = Literal["forwarded", "x-forwarded-for", "x-real-ip", "cf-connecting-ip"]
"""A forwarding header pyrama reads and writes (``x-forwarded-for`` brings ``-host`` and
``-proto`` along)."""

_HEADERS: Final = ("forwarded", "x-forwarded-for", "x-real-ip", "cf-connecting-ip")

DEFAULT_TRUSTED_PROXIES: Final = ("127.0.0.0/8", "::1/128")
"""Proxies trusted by default: loopback only (a proxy on the same host)."""


def _peer_node(request: Request) -> ForwardedNode | None:
    info = request.extensions.get(SocketInfo)
    if info is None:
        return None
    addr = info.peer_address
    if addr is None:
        return None
    return ForwardedNode(ip=addr.ip, port=addr.port)


def _read(request: Request, header: str) -> Forwarded | None:
    headers = request.headers
    values = headers.get_all(header)
    if not values:
        return None
    if header == "forwarded":
        return Forwarded.parse(values)
    if header == "x-forwarded-for":
        return Forwarded.from_x_forwarded(
            values,
            host=headers.get_joined("x-forwarded-host"),
            proto=headers.get_joined("x-forwarded-proto"),
        )
    nodes = parse_x_forwarded_for(values[-1])
    return Forwarded(tuple(ForwardedElement(for_=n) for n in nodes[-1:]))


_CACHE_MAX: Final = 1024
"""At most this many peers, and this many (peer, forwarding header) outcomes, are remembered
per :class:`ForwardedService`; a full cache is emptied and refilled."""

_Outcome = tuple[Forwarded | None, ClientIp | None]


class ForwardedService:
    """Resolves the client behind proxies (see :class:`ForwardedLayer`).

    Everything it works out is a pure function of the peer's address and the forwarding
    header values, so both are remembered (bounded, see ``_CACHE_MAX``): per peer, its
    :class:`~pyrama_net.ForwardedNode` and whether it is a trusted proxy (an untrusted peer's
    headers are never read), and per (peer, header values) the parsed, immutable
    :class:`~pyrama_net.Forwarded` and :class:`~pyrama_net.ClientIp`. Invalid headers are
    not remembered (they take the full path every time).
    """

    __slots__ = ("_headers", "_outcomes", "_peers", "_reject", "_trusted", "inner")

    def __init__(
        self,
        inner: HttpService,
        headers: tuple[str, ...],
        trusted: IpNetworks | None,
        reject_invalid: bool,
    ) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._headers = headers
        self._trusted = trusted
        self._reject = reject_invalid
        # raw peer (the SocketInfo tuple) -> (its node, whether its headers are read,
        # the outcome when no header is read or present)
        self._peers: dict[object, tuple[ForwardedNode | None, bool, _Outcome]] = {}
        # (raw peer, header, values...) -> outcome
        self._outcomes: dict[tuple[object, ...], _Outcome] = {}

    def _peer_facts(
        self, request: Request, raw: object
    ) -> tuple[ForwardedNode | None, bool, _Outcome]:
        try:
            facts = self._peers.get(raw)
        except TypeError:  # an unhashable peer (not from a socket): no caching
            return self._peer_facts_of(request)
        if facts is None:
            facts = self._peer_facts_of(request)
            if len(self._peers) >= _CACHE_MAX:
                self._peers.clear()
            self._peers[raw] = facts
        return facts

    def _peer_facts_of(self, request: Request) -> tuple[ForwardedNode | None, bool, _Outcome]:
        peer = _peer_node(request)
        trusted_peer = peer is not None and (
            self._trusted is None or (peer.ip is not None and peer.ip in self._trusted)
        )
        reads = trusted_peer or (peer is None and self._trusted is None)
        return peer, reads, (None, resolve_client_ip([], peer, self._trusted))

    async def serve(self, request: Request, /) -> Response:
        """Insert :class:`~pyrama_net.Forwarded` / :class:`~pyrama_net.ClientIp`, then serve."""
        info = request.extensions.get(SocketInfo)
        raw = info.peer if info is not None else None
        peer, reads, outcome = self._peer_facts(request, raw)
        if reads:
            headers = request.headers
            for header in self._headers:
                values = headers.get_all(header)
                if not values:
                    continue
                key: tuple[object, ...] = (raw, header)
                key += tuple(values)
                if header == "x-forwarded-for":
                    key += (headers.get_joined("x-forwarded-host"),)
                    key += (headers.get_joined("x-forwarded-proto"),)
                try:
                    cached = self._outcomes.get(key)
                except TypeError:
                    key, cached = (), None
                if cached is not None:
                    outcome = cached
                    break
                slow = await self._resolve(request, peer, header)
                if isinstance(slow, Response):
                    return slow
                outcome, clean = slow
                if clean and key:
                    if len(self._outcomes) >= _CACHE_MAX:
                        self._outcomes.clear()
                    self._outcomes[key] = outcome
                break
        forwarded, client = outcome
        if forwarded is not None:
            request.extensions.insert(forwarded)
        if client is not None:
            request.extensions.insert(client)
        return await self.inner.serve(request)

    async def _resolve(
        self, request: Request, peer: ForwardedNode | None, first: str
    ) -> tuple[_Outcome, bool] | Response:
        """The full path from header *first* on: (outcome, whether it may be remembered)."""
        forwarded: Forwarded | None = None
        clean = True
        for header in self._headers[self._headers.index(first) :]:
            try:
                forwarded = _read(request, header)
            except AddressError:
                if self._reject:
                    await request.body.aclose()
                    return plain_response(400, f"invalid {header} header\n")
                clean = False
                continue
            if forwarded is not None:
                break
        chain = [e.for_ for e in forwarded.elements if e.for_ is not None] if forwarded else []
        client = resolve_client_ip(chain, peer, self._trusted)
        if client is None and peer is None and chain and chain[-1].ip is not None:
            client = ClientIp(chain[-1].ip, chain[-1].port, True)  # no socket: trust headers
        return (forwarded, client), clean


class ForwardedLayer:
    """Server side: find the client behind the proxies.

    When the connection's peer is a trusted proxy (*trusted_proxies*: CIDR strings or an
    :class:`~pyrama_net.IpNetworks`, loopback by default, ``"all"`` to trust every peer),
    the first of *headers* present is parsed: ``Forwarded`` (RFC 7239),
    ``X-Forwarded-For`` with ``X-Forwarded-Host`` / ``-Proto``, ``X-Real-IP`` or
    ``CF-Connecting-IP``. The parsed hops are inserted as a :class:`~pyrama_net.Forwarded`
    extension, and the client as a :class:`~pyrama_net.ClientIp`: walking the hops back
    from the peer, the first address that is not a trusted proxy. Headers from untrusted
    peers are ignored (the peer is the client). A malformed header is ignored, or answered
    ``400`` with *reject_invalid*.
    """

    __slots__ = ("_headers", "_reject", "_trusted")

    def __init__(
        self,
        *,
        headers: Sequence[ForwardedHeader] = _HEADERS,
        trusted_proxies: Sequence[str] | IpNetworks | Literal["all"] = DEFAULT_TRUSTED_PROXIES,
        reject_invalid: bool = False,
    ) -> None:
        """Configure the headers read and the proxies trusted."""
        hs = tuple(h.lower() for h in headers)
        for h in hs:
            if h not in _HEADERS:
                raise ConfigError(f"unknown forwarding header {h!r} (know {', '.join(_HEADERS)})")
        if not hs:
            raise ConfigError("give at least one forwarding header")
        self._headers = hs
        if trusted_proxies == "all":
            self._trusted: IpNetworks | None = None
        elif isinstance(trusted_proxies, IpNetworks):
            self._trusted = trusted_proxies
        else:
            try:
                self._trusted = IpNetworks.parse(*trusted_proxies)
            except AddressError as exc:
                raise ConfigError(str(exc)) from exc
        self._reject = reject_invalid

    def layer(self, inner: HttpService, /) -> ForwardedService:
        """Wrap *inner*."""
        return ForwardedService(inner, self._headers, self._trusted, self._reject)


class SetForwardedHeaderService:
    """Writes forwarding headers (see :class:`SetForwardedHeaderLayer`)."""

    __slots__ = ("_by", "_headers", "inner")

    def __init__(
        self, inner: HttpService, headers: tuple[str, ...], by: ForwardedNode | None
    ) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._headers = headers
        self._by = by

    async def serve(self, request: Request, /) -> Response:
        """Append this hop to the forwarding headers, then send *request* on."""
        headers = request.headers
        prior = request.extensions.get(Forwarded)
        if prior is None:
            try:
                prior = _read(request, "forwarded") or _read(request, "x-forwarded-for")
            except AddressError:
                prior = None
        prior = prior or Forwarded()
        peer = _peer_node(request)
        client = request.extensions.get(ClientIp)
        node = peer
        if node is None and client is not None:
            node = ForwardedNode(ip=client.ip, port=client.port)
        host = headers.get("host") or request.uri.authority_text
        proto = request.uri.scheme
        if proto is None:
            from pyrama_tls import NegotiatedTls

            proto = "https" if request.extensions.get(NegotiatedTls) is not None else "http"
        hop = ForwardedElement(for_=node, by=self._by, host=host, proto=proto.lower())
        chain = prior.with_element(hop)
        if "forwarded" in self._headers:
            headers.set("Forwarded", chain.encode())
        if "x-forwarded-for" in self._headers:
            xff = chain.x_forwarded_for()
            if xff:
                headers.set("X-Forwarded-For", xff)
            if host:
                headers.set("X-Forwarded-Host", host)
            headers.set("X-Forwarded-Proto", hop.proto or "http")
        client_ip = chain.client
        for name in ("x-real-ip", "cf-connecting-ip"):
            if name in self._headers and client_ip is not None and client_ip.ip is not None:
                headers.set(
                    "X-Real-IP" if name == "x-real-ip" else "CF-Connecting-IP", str(client_ip.ip)
                )
        return await self.inner.serve(request)


class SetForwardedHeaderLayer:
    """Proxy / client side: tell the next hop who the client is.

    The hops the request already carries (a :class:`~pyrama_net.Forwarded` extension from
    :class:`ForwardedLayer`, else its ``Forwarded`` / ``X-Forwarded-For`` headers) get this
    hop appended: ``for`` the connection's peer, ``by`` (optional, *by*), ``host`` and
    ``proto``. Then each of *headers* is written: ``Forwarded`` (default),
    ``X-Forwarded-For`` (+ ``-Host``, ``-Proto``), ``X-Real-IP``, ``CF-Connecting-IP``
    (the first hop's address).
    """

    __slots__ = ("_by", "_headers")

    def __init__(
        self,
        *headers: ForwardedHeader,
        by: str | ForwardedNode | None = None,
    ) -> None:
        """Write *headers* (default ``forwarded``)."""
        hs = tuple(h.lower() for h in headers) or ("forwarded",)
        for h in hs:
            if h not in _HEADERS:
                raise ConfigError(f"unknown forwarding header {h!r} (know {', '.join(_HEADERS)})")
        self._headers = hs
        try:
            self._by = ForwardedNode.parse(by) if isinstance(by, str) else by
        except AddressError as exc:
            raise ConfigError(str(exc)) from exc

    def layer(self, inner: HttpService, /) -> SetForwardedHeaderService:
        """Wrap *inner*."""
        return SetForwardedHeaderService(inner, self._headers, self._by)
