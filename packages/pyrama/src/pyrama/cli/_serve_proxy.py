"""``pyrama serve proxy``: an HTTP forward proxy (with CONNECT), optionally SOCKS5 on the same port.

* HTTP: absolute-form requests are forwarded, ``CONNECT host:port`` opens a tunnel
  (HTTP/1.1 and HTTP/2).
* ``--socks5``: the first byte of each connection decides: ``0x05`` is SOCKS5 (CONNECT), any
  other byte HTTP. The byte is peeked, not consumed.
* ``--auth USER:PASS`` (repeatable): clients must authenticate (HTTP ``Proxy-Authorization``,
  SOCKS5 username/password). Usernames carry labels (``john-country-us-residential``): the
  name before the first ``-`` is checked with the password, the labels become a
  :class:`~pyrama_proxy.ProxyFilter`.
* ``--proxy-db FILE.csv``: every tunnel and request leaves through an upstream proxy from
  the list, picked by the username's filter (any proxy without labels, unless ``--upstream``
  is given: then requests without labels use that one).
* ``--upstream URL``: every tunnel and request leaves through this proxy
  (``http://``, ``https://``, ``socks5://``, ``socks5h://``, credentials in the URL).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard

if TYPE_CHECKING:
    from pyrama_core import Service
    from pyrama_http_types import Request, Response
    from pyrama_net import Authority, Basic, EstablishedConnection, ProxyAddress, Stream
    from pyrama_proxy import MemoryProxyDB, ProxyFilter
    from pyrama_socks5 import Socks5ConnectTarget

__all__ = ["COMMAND", "FixedUpstreamLayer", "ProtocolSniffer", "UpstreamNotFoundLayer"]

SOCKS5_FIRST_BYTE = 0x05
"""A SOCKS5 greeting starts with the version byte 5; no HTTP request starts with it."""

_GC_GEN0_THRESHOLD = 5000
"""Net allocations between two collections of the youngest generation (Python's default: 700)."""


class ProtocolSniffer:
    """``Service[Stream, None]``: SOCKS5 when the first byte is ``0x05``, HTTP otherwise.

    The byte is peeked (:func:`pyrama_net.peek`) and replayed to the chosen service. A
    connection that closes before sending a byte is just closed.
    """

    __slots__ = ("_http", "_peek", "_socks5")

    def __init__(self, http: Service[Stream, None], socks5: Service[Stream, None]) -> None:
        from pyrama_net import peek

        self._http = http
        self._socks5 = socks5
        self._peek = peek  # imported once here, not on every connection

    async def serve(self, stream: Stream, /) -> None:
        """Peek the first byte and hand the stream to the matching service."""
        first, replay = await self._peek(stream, 1)
        if not first:
            await stream.close()
            return
        if first[0] == SOCKS5_FIRST_BYTE:
            await self._socks5.serve(replay)
        else:
            await self._http.serve(replay)


class FixedUpstreamLayer:
    """Layer: requests without a :class:`~pyrama_net.ProxyAddress` extension get *upstream*."""

    __slots__ = ("upstream",)

    def __init__(self, upstream: ProxyAddress) -> None:
        self.upstream = upstream

    def layer(self, inner: Service[Request, Response]) -> Service[Request, Response]:
        """Wrap *inner*."""
        from pyrama_core import service_fn
        from pyrama_net import ProxyAddress

        upstream = self.upstream

        async def serve(request: Request) -> Response:
            if request.extensions.get(ProxyAddress) is None:
                request.extensions.insert(upstream, ProxyAddress)
            return await inner.serve(request)

        return service_fn(serve)


class UpstreamNotFoundLayer:
    """Layer: a :class:`~pyrama_proxy.ProxyNotFoundError` becomes a ``503`` answer."""

    __slots__ = ()

    def layer(self, inner: Service[Request, Response]) -> Service[Request, Response]:
        """Wrap *inner*."""
        from pyrama_core import service_fn
        from pyrama_http_types import Response
        from pyrama_proxy import ProxyNotFoundError

        async def serve(request: Request) -> Response:
            try:
                return await inner.serve(request)
            except ProxyNotFoundError:
                return Response.text("no upstream proxy matches this request\n", 503)

        return service_fn(serve)


@dataclasses.dataclass(frozen=True, slots=True)
class _Upstreams:
    """How tunnels leave: a proxy list, a fixed upstream, or directly."""

    db: MemoryProxyDB | None
    fixed: ProxyAddress | None

    @property
    def default_filter(self) -> ProxyFilter | None:
        from pyrama_proxy import ProxyFilter

        return ProxyFilter() if self.db is not None and self.fixed is None else None

    async def pick(self, proxy_filter: ProxyFilter | None) -> ProxyAddress | None:
        if self.db is not None:
            wanted = proxy_filter if proxy_filter is not None else self.default_filter
            if wanted is not None:
                return (await self.db.get_proxy(wanted)).address
        return self.fixed


class _Socks5Upstream:
    """SOCKS5 CONNECT connector: straight to the target or through the chosen upstream."""

    __slots__ = ("_connector", "_direct", "_filter_type", "_target_type", "_upstreams")

    def __init__(self, upstreams: _Upstreams, connector: Any) -> None:
        from pyrama_http.proxy import TunnelTarget
        from pyrama_proxy import ProxyFilter

        self._upstreams = upstreams
        self._connector = connector
        # imported once here, not on every connection
        self._target_type = TunnelTarget
        self._filter_type = ProxyFilter
        self._direct = upstreams.db is None and upstreams.fixed is None

    async def serve(self, target: Socks5ConnectTarget, /) -> EstablishedConnection[Any, Any]:
        proxy = None
        if not self._direct:
            proxy = await self._upstreams.pick(target.extensions.get(self._filter_type))
        host = str(target.host)
        if host.startswith("["):
            host = host[1:-1]
        established: EstablishedConnection[Any, Any] = await self._connector.serve(
            self._target_type(host, target.port, proxy)
        )
        return established


def _credentials(values: Sequence[str]) -> tuple[Basic, ...]:
    from pyrama_core.errors import ConfigError
    from pyrama_net import Basic

    creds: list[Basic] = []
    for text in values:
        try:
            cred = Basic.parse(text)
        except ValueError as exc:
            raise ConfigError(f"--auth {text.partition(':')[0]}:***: {exc}") from exc
        if not cred.username or "-" in cred.username:
            raise ConfigError(
                f"--auth: the user name {cred.username!r} must be non-empty and without '-' "
                "(labels after '-' select upstream proxies)"
            )
        creds.append(cred)
    return tuple(creds)


def _socks5_authorizer(creds: tuple[Basic, ...]) -> Any:
    from pyrama_net import Basic
    from pyrama_proxy import UsernameLabelError, parse_username_labels

    async def authorize(sent: Basic) -> object:
        try:
            name, proxy_filter = parse_username_labels(sent.username)
        except UsernameLabelError:
            return False
        cred = Basic(name, sent.password)
        ok = False
        for c in creds:
            ok |= c.matches(cred)  # every entry compared: no early exit
        if not ok:
            return False
        return proxy_filter if proxy_filter is not None else True

    return authorize


def _upstreams(args: argparse.Namespace) -> _Upstreams:
    from pyrama_core.errors import ConfigError
    from pyrama_net import ProxyAddress
    from pyrama_proxy import MemoryProxyDB, ProxyDBLoadError

    db = None
    if args.proxy_db is not None:
        try:
            db = MemoryProxyDB.from_csv(args.proxy_db)
        except ProxyDBLoadError as exc:
            raise ConfigError(f"--proxy-db {args.proxy_db}: {exc}") from exc
        if not len(db):
            raise ConfigError(f"--proxy-db {args.proxy_db}: the list has no proxies")
    fixed = None
    if args.upstream is not None:
        try:
            fixed = ProxyAddress.parse(args.upstream)
        except ValueError as exc:
            raise ConfigError(f"--upstream: {exc}") from exc
        if fixed.protocol.scheme not in ("http", "https", "socks5", "socks5h"):
            raise ConfigError("--upstream takes an http, https, socks5 or socks5h proxy URL")
    return _Upstreams(db, fixed)


async def _start(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._tcp import start_tcp
    from pyrama_core import Layer, layers
    from pyrama_http import ProxyConnector
    from pyrama_http.proxy import HttpProxy, ProxyAuthLayer, http_proxy_service
    from pyrama_proxy import ProxySelectLayer, parse_username_labels
    from pyrama_tcp import TcpConnector

    args = s.args
    creds = _credentials(args.auth or ())
    upstreams = _upstreams(args)
    connect_timeout = args.connect_timeout or None
    connector = ProxyConnector(TcpConnector(connect_timeout=connect_timeout))

    stack: list[Layer[Any, Any]] = []
    if creds:
        stack.append(ProxyAuthLayer(creds, username_parser=parse_username_labels))
    if upstreams.db is not None:
        stack += [
            UpstreamNotFoundLayer(),
            ProxySelectLayer(upstreams.db, default_filter=upstreams.default_filter),
        ]
    if upstreams.fixed is not None:
        stack.append(FixedUpstreamLayer(upstreams.fixed))
    # Straight to the target, the TcpConnector's own deadline covers the whole dial (DNS
    # included): a second one around it would only cost time on every tunnel. Through an
    # upstream proxy the dial also waits for that proxy's answer, which only the outer
    # deadline covers.
    direct = upstreams.db is None and upstreams.fixed is None
    outer_timeout = None if direct else connect_timeout
    proxy = HttpProxy(connector=connector, connect_timeout=outer_timeout)
    stream_svc: Service[Stream, None] = http_proxy_service(layers(*stack).into(proxy))
    details: dict[str, object] = {
        "socks5": bool(args.socks5),
        "auth": len(creds),
        "upstream": "proxy-db" if upstreams.db else ("fixed" if upstreams.fixed else "direct"),
    }
    if args.socks5:
        from pyrama_socks5 import Socks5Acceptor

        socks5 = Socks5Acceptor(
            authorizer=_socks5_authorizer(creds) if creds else None,
            connector=_Socks5Upstream(upstreams, connector),
            connect_timeout=outer_timeout,
        )
        stream_svc = ProtocolSniffer(stream_svc, socks5)
    _tune_gc()
    started = await start_tcp(s, guard, stream_svc)
    return Started(started.address, started.task, started.in_flight, details)


def _tune_gc() -> None:
    """Tune the cyclic garbage collector for a server that makes many short connections.

    * Everything made so far (modules, the service stack) is moved out of the collector's
      sight (``gc.freeze``): a full collection walks every tracked object, a proxy that has
      imported its whole stack holds some 100,000 of them, and one full collection every few
      thousand tunnels cost about 10 us per tunnel (measured).
    * The youngest generation is collected every :data:`_GC_GEN0_THRESHOLD` net allocations
      instead of Python's 700: each young collection walks the objects of every connection
      in flight, and at 700 a busy proxy ran one every ~20 tunnels (GC time per 3000 CONNECT
      tunnels, measured in process: 57 ms at 700, 22 ms at 5000). A threshold of 0 (the
      collector switched off) is left alone.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    if gen0:
        gc.set_threshold(max(gen0, _GC_GEN0_THRESHOLD), gen1, gen2)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be a finite number >= 0, got {text!r}")
    return value


def _address(text: str) -> Authority:
    from pyrama.cli._bind import parse_bind

    try:
        return parse_bind(text, default_port=8080)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address",
        nargs="?",
        metavar="ADDRESS",
        type=_address,
        help="where to listen, in the forms --bind takes; wins over --bind "
        "(default: 127.0.0.1:8080)",
    )
    parser.add_argument(
        "--socks5",
        action="store_true",
        help="also accept SOCKS5 (CONNECT) on the same port: a connection whose first byte "
        "is 0x05 is SOCKS5, any other is HTTP",
    )
    parser.add_argument(
        "--auth",
        metavar="USER:PASS",
        action="append",
        help="require these credentials (repeatable); a client's username may carry labels "
        "after the name (john-country-us-residential) that select the --proxy-db upstream",
    )
    parser.add_argument(
        "--upstream",
        metavar="URL",
        help="send every tunnel and request through this proxy "
        "(http://, https://, socks5://, socks5h://; user:pass@ in the URL)",
    )
    parser.add_argument(
        "--proxy-db",
        metavar="FILE.csv",
        help="upstream proxies (CSV with a header: id,address,... see pyrama_proxy.CSV_COLUMNS); "
        "each request goes through one that matches its username labels",
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=30.0,
        help="give up connecting to a target (or upstream) after this long; 0 = never "
        "(default: 30)",
    )


COMMAND = ServeCommand(
    name="proxy",
    help="HTTP forward proxy with CONNECT (and SOCKS5 on the same port with --socks5)",
    description=(
        "An HTTP forward proxy: absolute-form requests are forwarded and CONNECT opens\n"
        "tunnels (HTTP/1.1 and HTTP/2). With --socks5 the same port also speaks SOCKS5\n"
        "(the first byte of a connection tells them apart). --auth requires credentials;\n"
        "usernames may carry labels (john-country-us-residential) that pick an upstream\n"
        "proxy from --proxy-db. --upstream chains everything through one proxy."
    ),
    modes={
        "proxy": Mode(
            _start,
            ("net", "tcp", "tls", "http_types", "http_core", "http", "socks5", "proxy"),
            "HTTP forward proxy (+ SOCKS5 with --socks5)",
        )
    },
    default_mode="proxy",
    default_timeout=0.0,
    add_arguments=_add_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve proxy                              HTTP proxy on 127.0.0.1:8080\n"
        "  pyrama serve proxy :3128 --socks5               HTTP and SOCKS5 on port 3128\n"
        "  pyrama serve proxy --auth john:secret --proxy-db proxies.csv\n"
        "      curl -x http://john-country-us:secret@127.0.0.1:8080 http://example.com/\n"
        "  pyrama serve proxy --upstream socks5h://127.0.0.1:1080\n"
    ),
)
