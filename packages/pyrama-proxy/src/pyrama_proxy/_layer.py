"""ProxySelectLayer: choose the upstream proxy for each request or stream."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from pyrama_core import Extensions, Service
from pyrama_net import ProxyAddress
from pyrama_proxy._db import ProxyDB, ProxyPredicate
from pyrama_proxy._proxy import Proxy, ProxyFilter
from pyrama_proxy.errors import ProxyNotFoundError

__all__ = ["HasExtensions", "ProxySelectLayer", "ProxySelectService"]


class HasExtensions(Protocol):
    """Anything that carries :class:`~pyrama_core.Extensions` (a request, a stream)."""

    @property
    def extensions(self) -> Extensions:
        """The input's extensions."""
        ...


In = TypeVar("In", bound=HasExtensions)
Out = TypeVar("Out")


class ProxySelectService(Generic[In, Out]):
    """Picks an upstream proxy for each input, then calls the inner service.

    The filter is the :class:`~pyrama_proxy.ProxyFilter` in the input's extensions (put there
    by the username-label parser, for instance), else the default filter. The chosen
    :class:`~pyrama_proxy.Proxy` and its :class:`~pyrama_net.ProxyAddress` are inserted into
    the extensions, which is how a connector or ``EasyHttpWebClient`` knows to go through it.
    Without any filter the input passes unchanged, unless the layer requires a proxy.
    """

    __slots__ = ("_db", "_default", "_inner", "_predicate", "_required")

    def __init__(
        self,
        inner: Service[In, Out],
        db: ProxyDB,
        *,
        default_filter: ProxyFilter | None,
        required: bool,
        predicate: ProxyPredicate | None,
    ) -> None:
        self._inner = inner
        self._db = db
        self._default = default_filter
        self._required = required
        self._predicate = predicate

    async def serve(self, input: In, /) -> Out:
        """Select the proxy (raising ``ProxyNotFoundError`` if none fits) and serve *input*."""
        extensions = input.extensions
        proxy_filter = extensions.get(ProxyFilter)
        if proxy_filter is None:
            proxy_filter = self._default
        if proxy_filter is None:
            if self._required:
                raise ProxyNotFoundError("no proxy filter given and no default filter set")
            return await self._inner.serve(input)
        proxy = await self._db.get_proxy(proxy_filter, self._predicate)
        extensions.insert(proxy, Proxy)
        extensions.insert(proxy.address, ProxyAddress)
        return await self._inner.serve(input)


class ProxySelectLayer:
    """Layer of :class:`ProxySelectService` (rama's upstream proxy DB layer).

    ``default_filter`` applies when the input carries no filter (``ProxyFilter()`` accepts any
    proxy); ``required=True`` refuses inputs with neither; ``predicate`` adds a condition per
    proxy, e.g. ``lambda p: p.http`` to pick only HTTP proxies.
    """

    __slots__ = ("_db", "_default", "_predicate", "_required")

    def __init__(
        self,
        db: ProxyDB,
        *,
        default_filter: ProxyFilter | None = None,
        required: bool = False,
        predicate: ProxyPredicate | None = None,
    ) -> None:
        self._db = db
        self._default = default_filter
        self._required = required
        self._predicate = predicate

    def layer(self, inner: Service[In, Out]) -> ProxySelectService[In, Out]:
        """Wrap *inner*."""
        return ProxySelectService(
            inner,
            self._db,
            default_filter=self._default,
            required=self._required,
            predicate=self._predicate,
        )
