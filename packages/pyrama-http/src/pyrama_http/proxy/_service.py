"""HttpProxy: an HTTP(S) forward proxy as a ``Service[Request, Response]``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, Final

from pyrama_core import Service
from pyrama_core.errors import ConfigError, PyramaError, PyramaTimeoutError
from pyrama_core.telemetry import debug_enabled, get_logger
from pyrama_http._easy import EasyHttpWebClient
from pyrama_http._proxy_connector import ProxyConnector
from pyrama_http.errors import InvalidRequestError
from pyrama_http.proxy._headers import strip_raw, via_value
from pyrama_http.proxy._tunnel import (
    ConnectTargetError,
    TunnelTarget,
    connect_authority,
    spawn_tunnel,
)
from pyrama_http_core import OnUpgrade
from pyrama_http_types import Body, HeaderMap, Method, Request, Response, UriForm, Version
from pyrama_net import (
    BridgeError,
    BridgeStats,
    EstablishedConnection,
    Stream,
    TaskDeadline,
    bridge,
)
from pyrama_tcp import TcpConnector

__all__ = ["DEFAULT_RESPONSE_BUFFER", "DEFAULT_SPLICE_AFTER", "HttpProxy", "TunnelConnector"]

TunnelConnector = Service[TunnelTarget, EstablishedConnection[Any, Stream]]
"""What :class:`HttpProxy` dials CONNECT targets with: a stream connector for a
:class:`~pyrama_http.proxy.TunnelTarget`."""

_log = get_logger(__name__)

DEFAULT_SPLICE_AFTER: Final = 64 * 1024
"""Bytes a tunnel direction moves through Python callbacks before it switches to splice."""

_FORWARD_SCHEMES: Final = frozenset({"http", "https"})
_NO_BODY_STATUSES: Final = frozenset({204, 304})
# enum members as module constants: `Version.HTTP_11` is a class attribute look-up through the
# enum's metaclass (~1k instructions each on CPython 3.11), a module global is not
_HTTP_10: Final = Version.HTTP_10
_HTTP_11: Final = Version.HTTP_11
_CONNECT: Final = Method.CONNECT

DEFAULT_RESPONSE_BUFFER: Final = 64 * 1024
"""Forwarded responses with a ``Content-Length`` up to this many bytes are read whole before
they are answered (see :class:`HttpProxy`'s *buffer_small_responses*)."""


def _answer(status: int, reason: str) -> Response:
    return Response.text(reason + "\n", status)


# Request targets found forwardable (absolute http(s), no userinfo), by their exact bytes
# (which decide the parse): their authority as text and as the Host value. Bounded.
_TARGETS: dict[bytes, tuple[str | None, bytes | None]] = {}
_TARGETS_MAX: Final = 1024


def _forwardable(target: bytes, authority: str | None) -> tuple[str | None, bytes | None]:
    known = (authority, None if authority is None else authority.encode("latin-1"))
    if type(target) is bytes:
        if len(_TARGETS) >= _TARGETS_MAX:
            _TARGETS.clear()
        _TARGETS[target] = known
    return known


class HttpProxy:
    """An HTTP(S) forward proxy: absolute-form requests and CONNECT tunnels.

    * A request with an absolute ``http://`` or ``https://`` target (what clients send to a
      proxy; over HTTP/2 the ``:scheme``/``:authority`` form) is forwarded through *client*
      (default: an :class:`~pyrama_http.EasyHttpWebClient` that adds no ``User-Agent``,
      ignores proxy environment variables, puts no cap on its pool (bound concurrency with
      the listener's ``max_connections``) and keeps up to 64 idle connections per origin).
      Hop-by-hop fields are removed both ways
      (``Connection`` and the fields it names, ``Keep-Alive``, ``Proxy-Authorization``,
      ``Proxy-Connection``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``...); every
      other field keeps its case and position. ``Host`` is made to match the target.
      Bodies stream both ways. With *via* (a pseudonym such as ``"pyrama"``) a ``Via``
      field is added to requests and responses, and a request whose ``Via`` already names
      that pseudonym (a forwarding loop) is answered ``508``.
    * ``CONNECT host:port`` (HTTP/1.1, or HTTP/2 where the tunnel is the h2 stream): the
      target is dialed with *connector* (default :class:`~pyrama_http.ProxyConnector` over
      TCP: a :class:`~pyrama_net.ProxyAddress` request extension chains through that
      upstream proxy), the request is answered ``200`` and the client's stream is relayed
      with :func:`~pyrama_net.bridge`. Between two plain sockets each chunk is passed on
      from the transports' callbacks until one direction has moved *tunnel_splice_after*
      bytes (default 64 KiB), then the rest moves zero-copy (``os.splice``): a short tunnel
      (a request and its answer) does not pay for setting up splice, a bulk one switches
      early. ``0`` splices from the start; ``None`` never switches. With *lazy_connect*
      the ``200`` goes out first and the target is dialed afterwards (a failure then just
      closes the tunnel).

    Answers of its own: ``400`` for a target that is not absolute-form (or a CONNECT target
    that is not ``host:port``), ``502`` when the target is unreachable or its answer
    broken, ``504`` when *connect_timeout* (seconds, CONNECT) or the client's own timeouts
    pass. Tunnels are spawned with the connection's :class:`~pyrama_core.Executor` (tied to
    graceful shutdown); the :class:`~pyrama_http.HttpServerService` keeps an HTTP/1.1
    connection open until its tunnel is over, so any ``HttpServer`` serves them.
    *tunnel_idle_timeout* closes tunnels idle for that long. A forwarded response whose
    ``Content-Length`` is at most *buffer_small_responses* bytes (default 64 KiB; ``0``
    streams every body) is read whole before it is answered, as nginx's proxy buffering
    does: usually it arrived with its head, and the client then gets head and body in one
    write; an upstream that fails before the body is complete gets a ``502`` instead of
    a cut response. Longer bodies, bodies of unknown length and ``HEAD`` answers stream.
    """

    __slots__ = (
        "_buffer",
        "_client",
        "_connect_timeout",
        "_connector",
        "_idle",
        "_lazy",
        "_owned",
        "_splice_after",
        "_via",
        "_via_token",
        "_zero_copy",
    )

    def __init__(
        self,
        *,
        client: Service[Request, Response] | None = None,
        connector: TunnelConnector | None = None,
        connect_timeout: float | None = 30.0,
        lazy_connect: bool = False,
        via: str | None = None,
        tunnel_idle_timeout: float | None = None,
        buffer_small_responses: int = DEFAULT_RESPONSE_BUFFER,
        tunnel_splice_after: int | None = DEFAULT_SPLICE_AFTER,
    ) -> None:
        """Configure the proxy (see the class docs); :class:`ConfigError` on bad values."""
        for name, t in (
            ("connect_timeout", connect_timeout),
            ("tunnel_idle_timeout", tunnel_idle_timeout),
        ):
            if t is not None and not t > 0:
                raise ConfigError(f"{name} must be > 0 seconds or None, got {t!r}")
        if (
            isinstance(buffer_small_responses, bool)
            or not isinstance(buffer_small_responses, int)
            or buffer_small_responses < 0
        ):
            raise ConfigError(
                f"buffer_small_responses must be an int >= 0, got {buffer_small_responses!r}"
            )
        if tunnel_splice_after is not None and (
            isinstance(tunnel_splice_after, bool)
            or not isinstance(tunnel_splice_after, int)
            or tunnel_splice_after < 0
        ):
            raise ConfigError(
                f"tunnel_splice_after must be an int >= 0 or None, got {tunnel_splice_after!r}"
            )
        if via is not None:
            via = via.strip()
            if not via or any(c in via for c in "\r\n\0"):
                raise ConfigError(f"via must be a non-empty pseudonym, got {via!r}")
        self._owned = client is None
        if client is None:
            # no pool-wide cap: the listener's connection limit bounds the upstream requests,
            # and a cap here would make unrelated origins wait for long downloads; many
            # clients share few origins, so keep more idle connections per origin (fewer
            # connects under load)
            client = EasyHttpWebClient(
                user_agent=None,
                trust_env=False,
                connect_timeout=connect_timeout,
                max_connections=None,
                max_idle_per_host=64,
            )
        self._client = client
        if connector is None:
            connector = ProxyConnector(TcpConnector(connect_timeout=connect_timeout))
        self._connector = connector
        self._connect_timeout = connect_timeout
        self._lazy = lazy_connect
        self._via = via
        self._via_token = None if via is None else via.lower().encode("latin-1")
        self._idle = tunnel_idle_timeout
        self._buffer = buffer_small_responses
        # bridge(): 0 splices from the start (its None); None never splices (its zero_copy off)
        self._splice_after: int | None = None if tunnel_splice_after == 0 else tunnel_splice_after
        self._zero_copy = tunnel_splice_after is not None

    @property
    def client(self) -> Service[Request, Response]:
        """The upstream HTTP client of forwarded requests."""
        return self._client

    @property
    def connector(self) -> TunnelConnector:
        """The connector CONNECT targets are dialed with."""
        return self._connector

    async def close(self) -> None:
        """Close the default upstream client's pooled connections (a given client is yours)."""
        if self._owned and isinstance(self._client, EasyHttpWebClient):
            await self._client.close()

    def serve(self, request: Request, /) -> Coroutine[Any, Any, Response]:
        """Forward *request*, or open the tunnel it asks for.

        A plain function returning the coroutine that does either: no coroutine layer of
        its own around them.
        """
        if request.method == _CONNECT:
            return self._connect(request)
        return self._forward(request)

    async def _forward(self, request: Request) -> Response:
        """Forward an absolute-form *request* to its origin."""
        uri = request.uri
        target = uri.as_bytes()
        known = _TARGETS.get(target)
        if known is None:
            if uri.form is not UriForm.ABSOLUTE or uri.scheme not in _FORWARD_SCHEMES:
                return _answer(
                    400, "a forward proxy needs an absolute http:// or https:// request target"
                )
            if uri.userinfo is not None:
                return _answer(400, "the request target may not carry userinfo")
            known = _forwardable(target, uri.authority_text)
        authority, wanted = known
        original = request.headers.raw_items()
        raw = strip_raw(original)
        if wanted is not None:
            for i, (name, value) in enumerate(raw):
                if len(name) == 4 and name.lower() == b"host":
                    if value != wanted:
                        # the first Host becomes the target's, later ones go (as set() does)
                        raw = raw[:i] + [
                            pair
                            for pair in raw[i + 1 :]
                            if not (len(pair[0]) == 4 and pair[0].lower() == b"host")
                        ]
                        raw.insert(i, (name, wanted))
                    break
        via = self._via
        # nothing dropped nor changed: the request's own map goes on (this request is ours)
        headers = request.headers if raw is original and via is None else HeaderMap.from_raw(raw)
        if via is not None:
            if self._looped(request):
                return _answer(508, "forwarding loop: the request passed this proxy before")
            headers.add(b"Via", via_value(request.version, via))
        # built field by field: every part is already of its type (no checks to repeat)
        upstream = Request.__new__(Request)
        upstream.method = request.method
        upstream.uri = uri
        upstream.version = _HTTP_10 if request.version is _HTTP_10 else _HTTP_11
        upstream.headers = headers
        upstream.body = request.body
        upstream.extensions = request.extensions
        try:
            response = await self._client.serve(upstream)
        except InvalidRequestError as exc:
            return _answer(400, f"cannot forward: {exc}")
        except (PyramaTimeoutError, TimeoutError) as exc:
            _log.info("proxy upstream timed out", target=authority, error=str(exc))
            return _answer(504, f"upstream {authority} timed out")
        except (PyramaError, OSError) as exc:
            _log.info(
                "proxy upstream failed", target=authority, error=f"{type(exc).__name__}: {exc}"
            )
            return _answer(502, f"upstream {authority} failed: {type(exc).__name__}")
        raw = response.headers.raw_items()
        kept = strip_raw(raw)
        if kept is not raw:  # else the headers stay as they are
            response.headers = HeaderMap.from_raw(kept)
        if via is not None:
            response.headers.add(b"Via", via_value(response.version, via))
        body = response.body
        if body.is_in_memory:  # already whole (the client took a body that came with its head)
            return response
        size = body.size_hint
        if (
            size is not None
            and 0 < size <= self._buffer
            and request.method != Method.HEAD
            and int(response.status) not in _NO_BODY_STATUSES
        ):
            # small and of known length: read it whole (usually it came with the head), so
            # the head and the body leave in one write instead of a streamed pair
            try:
                response.body = Body.from_bytes(await body.collect())
            except (PyramaError, OSError) as exc:
                _log.info(
                    "proxy upstream body failed",
                    target=authority,
                    error=f"{type(exc).__name__}: {exc}",
                )
                return _answer(502, f"upstream {authority} failed: {type(exc).__name__}")
        return response

    def _looped(self, request: Request) -> bool:
        token = self._via_token
        assert token is not None
        for value in request.headers.get_all_raw(b"via"):
            for hop in value.split(b","):
                parts = hop.split()
                if len(parts) >= 2 and parts[1].lower() == token:
                    return True
        return False

    # -- CONNECT ------------------------------------------------------------------------------

    async def _connect(self, request: Request) -> Response:
        try:
            authority = connect_authority(request)
        except ConnectTargetError as exc:
            return _answer(400, str(exc))
        on_upgrade = request.extensions.get(OnUpgrade)
        if on_upgrade is None:
            return _answer(501, "this connection cannot be turned into a tunnel")
        target = TunnelTarget.for_request(request, authority)
        if self._lazy:
            spawn_tunnel(
                request,
                self._lazy_tunnel(on_upgrade, target),
                name="proxy-tunnel",
                on_upgrade=on_upgrade,
            )
            return Response(200)
        try:
            if self._connect_timeout is None:  # the connector's own awaitable: no _dial layer
                upstream: Stream = (await self._connector.serve(target)).conn
            else:
                upstream = await self._dial(target)
        except (PyramaTimeoutError, TimeoutError) as exc:
            _log.info("proxy connect timed out", target=target.authority, error=str(exc))
            return _answer(504, f"connecting to {target.authority} timed out")
        except (PyramaError, OSError) as exc:
            _log.info(
                "proxy connect failed",
                target=target.authority,
                error=f"{type(exc).__name__}: {exc}",
            )
            return _answer(502, f"cannot connect to {target.authority}")
        spawn_tunnel(
            request,
            self._tunnel(on_upgrade, upstream, target),
            name="proxy-tunnel",
            on_upgrade=on_upgrade,
        )
        return Response(200)

    async def _dial(self, target: TunnelTarget) -> Stream:
        timeout = self._connect_timeout
        if timeout is None:
            est = await self._connector.serve(target)
        else:
            # a timer-wheel deadline, not asyncio.timeout (a loop timer and a context manager
            # per tunnel)
            deadline = TaskDeadline(timeout)
            try:
                est = await self._connector.serve(target)
            except asyncio.CancelledError as exc:
                if deadline.finish():
                    raise TimeoutError(f"no connection within {timeout} seconds") from exc
                raise
            finally:
                deadline.finish()
        stream: Stream = est.conn
        return stream

    async def _tunnel(self, on_upgrade: OnUpgrade, upstream: Stream, target: TunnelTarget) -> None:
        try:
            upgraded = await on_upgrade
        except BaseException as exc:
            await _close_quietly(upstream)
            if isinstance(exc, Exception):  # the 200 never went out: no tunnel
                _log.debug("proxy tunnel not opened", target=target.authority, error=str(exc))
                return
            raise
        # the relay awaited here, not in a helper coroutine: each coroutine layer is resumed
        # (and unwound) on every wake-up of the connection's task
        try:
            stats = await bridge(
                upgraded.stream,
                upstream,
                idle_timeout=self._idle,
                zero_copy=self._zero_copy,
                splice_after=self._splice_after,
            )
        except BridgeError as exc:
            _relay_ended(target, exc)
            return
        _relay_ended(target, stats)

    async def _lazy_tunnel(self, on_upgrade: OnUpgrade, target: TunnelTarget) -> None:
        try:
            upgraded = await on_upgrade
        except Exception as exc:  # the 200 never went out: no tunnel
            _log.debug("proxy tunnel not opened", target=target.authority, error=str(exc))
            return
        try:
            upstream = await self._dial(target)
        except BaseException as exc:
            await _close_quietly(upgraded.stream)
            if isinstance(exc, Exception):
                _log.info(
                    "proxy lazy connect failed",
                    target=target.authority,
                    error=f"{type(exc).__name__}: {exc}",
                )
                return
            raise
        # switched already: the tunnel's own await of the handle returns at once
        await self._tunnel(on_upgrade, upstream, target)

    def __repr__(self) -> str:
        return f"HttpProxy(lazy_connect={self._lazy}, via={self._via!r})"


def _relay_ended(target: TunnelTarget, outcome: BridgeStats | BridgeError) -> None:
    """Log how a tunnel's relay ended: its byte counts, or the error that ended it.

    Debug lines only (a peer's reset is routine), not built when filtered out.
    """
    if not debug_enabled(__name__):
        return
    if isinstance(outcome, BridgeError):
        _log.debug(
            "proxy tunnel ended with an error",
            target=target.authority,
            side="client" if outcome.side == "a" else "target",
            error=str(outcome.__cause__ or outcome),
        )
        return
    _log.debug(
        "proxy tunnel done",
        target=target.authority,
        up=outcome.a_to_b,
        down=outcome.b_to_a,
        zero_copy=outcome.zero_copy,
    )


async def _close_quietly(stream: Stream) -> None:
    with contextlib.suppress(Exception):
        await stream.close()
