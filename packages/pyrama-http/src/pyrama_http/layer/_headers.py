"""Header layers: set, append, remove and propagate request and response header fields."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Self

from pyrama_core.errors import ConfigError
from pyrama_http.layer._util import HttpService
from pyrama_http_types import HeaderMap, Request, Response, check_header_name, check_header_value

__all__ = [
    "HeaderMode",
    "PropagateHeaderLayer",
    "PropagateHeaderService",
    "RemoveRequestHeaderLayer",
    "RemoveRequestHeaderService",
    "RemoveResponseHeaderLayer",
    "RemoveResponseHeaderService",
    "SetRequestHeaderLayer",
    "SetRequestHeaderService",
    "SetResponseHeaderLayer",
    "SetResponseHeaderService",
]

HeaderValueFn = Callable[[HeaderMap], "str | None"]


class HeaderMode(enum.Enum):
    """How a set-header layer treats a field that is already there."""

    OVERRIDE = "override"
    """Replace every existing value."""
    APPEND = "append"
    """Add the value after the existing ones."""
    IF_NOT_PRESENT = "if_not_present"
    """Leave an existing field alone; add only when absent."""


def _apply(headers: HeaderMap, name: str, value: str | HeaderValueFn, mode: HeaderMode) -> None:
    if mode is HeaderMode.IF_NOT_PRESENT and name in headers:
        return
    v = value(headers) if callable(value) else value
    if v is None:
        return
    # an absent field is appended: ``set`` would build the map's index for nothing
    if mode is HeaderMode.APPEND or name not in headers:
        headers.add(name, v)
    else:
        headers.set(name, v)


def _check(name: str, value: str | HeaderValueFn, mode: HeaderMode) -> None:
    check_header_name(name)
    if not callable(value):
        check_header_value(value)
    if not isinstance(mode, HeaderMode):
        raise ConfigError(f"mode must be a HeaderMode, got {mode!r}")


class _SetHeader:
    """What both set-header services and layers hold: the field, its value and the mode."""

    __slots__ = ("_mode", "_name", "_value")

    def __init__(self, name: str, value: str | HeaderValueFn, mode: HeaderMode) -> None:
        self._name = name
        self._value = value
        self._mode = mode


class SetRequestHeaderService(_SetHeader):
    """Sets a request header field before the inner service (see :class:`SetRequestHeaderLayer`)."""

    __slots__ = ("inner",)

    def __init__(
        self, inner: HttpService, name: str, value: str | HeaderValueFn, mode: HeaderMode
    ) -> None:
        """Wrap *inner*."""
        super().__init__(name, value, mode)
        self.inner = inner

    async def serve(self, request: Request, /) -> Response:
        """Set the field on *request*, then serve it."""
        _apply(request.headers, self._name, self._value, self._mode)
        return await self.inner.serve(request)


class SetResponseHeaderService(_SetHeader):
    """Sets a response header field (see :class:`SetResponseHeaderLayer`)."""

    __slots__ = ("inner",)

    def __init__(
        self, inner: HttpService, name: str, value: str | HeaderValueFn, mode: HeaderMode
    ) -> None:
        """Wrap *inner*."""
        super().__init__(name, value, mode)
        self.inner = inner

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*, then set the field on the response."""
        response = await self.inner.serve(request)
        _apply(response.headers, self._name, self._value, self._mode)
        return response


class _SetHeaderLayer(_SetHeader):
    """The checks and constructors both set-header layers share."""

    __slots__ = ()

    def __init__(self, name: str, value: str | HeaderValueFn, mode: HeaderMode) -> None:
        """Set *name* to *value* in *mode*."""
        _check(name, value, mode)
        super().__init__(name, value, mode)

    @classmethod
    def overriding(cls, name: str, value: str | HeaderValueFn) -> Self:
        """Replace any existing value."""
        return cls(name, value, HeaderMode.OVERRIDE)

    @classmethod
    def appending(cls, name: str, value: str | HeaderValueFn) -> Self:
        """Add after any existing values."""
        return cls(name, value, HeaderMode.APPEND)

    @classmethod
    def if_not_present(cls, name: str, value: str | HeaderValueFn) -> Self:
        """Add only when the field is absent."""
        return cls(name, value, HeaderMode.IF_NOT_PRESENT)


class SetRequestHeaderLayer(_SetHeaderLayer):
    """Sets header field *name* on every request.

    *value* is a string or a function of the current headers returning one (``None``: set
    nothing). Use :meth:`overriding`, :meth:`appending` or :meth:`if_not_present`.
    """

    __slots__ = ()

    def layer(self, inner: HttpService, /) -> SetRequestHeaderService:
        """Wrap *inner*."""
        return SetRequestHeaderService(inner, self._name, self._value, self._mode)


class SetResponseHeaderLayer(_SetHeaderLayer):
    """Sets header field *name* on every response (same modes as :class:`SetRequestHeaderLayer`)."""

    __slots__ = ()

    def layer(self, inner: HttpService, /) -> SetResponseHeaderService:
        """Wrap *inner*."""
        return SetResponseHeaderService(inner, self._name, self._value, self._mode)


class PropagateHeaderService:
    """Copies request header fields to the response (see :class:`PropagateHeaderLayer`)."""

    __slots__ = ("_names", "inner")

    def __init__(self, inner: HttpService, names: tuple[str, ...]) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._names = names

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*; copy the named fields it had onto the response."""
        saved = [(n, request.headers.get_all_raw(n)) for n in self._names]
        response = await self.inner.serve(request)
        for name, values in saved:
            if values:
                response.headers.remove(name)
                for v in values:
                    response.headers.add(name, v)
        return response


class PropagateHeaderLayer:
    """Copies the request's values of header fields *names* to the response (replacing)."""

    __slots__ = ("_names",)

    def __init__(self, *names: str) -> None:
        """Propagate the fields *names*."""
        if not names:
            raise ConfigError("PropagateHeaderLayer needs at least one header name")
        for n in names:
            check_header_name(n)
        self._names = names

    def layer(self, inner: HttpService, /) -> PropagateHeaderService:
        """Wrap *inner*."""
        return PropagateHeaderService(inner, self._names)


def _remover(names: Sequence[str], prefix: str | None) -> Callable[[HeaderMap], None]:
    low = tuple(n.lower() for n in names)
    pre = prefix.lower() if prefix is not None else None

    def remove(headers: HeaderMap) -> None:
        for n in low:
            headers.remove(n)
        if pre is not None:
            for name in {n for n in headers.names() if n.lower().startswith(pre)}:
                headers.remove(name)

    return remove


def _check_remove(names: Sequence[str], prefix: str | None) -> None:
    if not names and not prefix:
        raise ConfigError("give header names and/or a non-empty prefix to remove")
    for n in names:
        check_header_name(n)


class RemoveRequestHeaderService:
    """Removes request header fields (see :class:`RemoveRequestHeaderLayer`)."""

    __slots__ = ("_remove", "inner")

    def __init__(self, inner: HttpService, remove: Callable[[HeaderMap], None]) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._remove = remove

    async def serve(self, request: Request, /) -> Response:
        """Remove the fields, then serve *request*."""
        self._remove(request.headers)
        return await self.inner.serve(request)


class RemoveRequestHeaderLayer:
    """Removes request header fields by *names* and/or every field starting with *prefix*."""

    __slots__ = ("_names", "_prefix")

    def __init__(self, *names: str, prefix: str | None = None) -> None:
        """Remove *names* (case-insensitive) and fields whose name starts with *prefix*."""
        _check_remove(names, prefix)
        self._names, self._prefix = names, prefix

    def layer(self, inner: HttpService, /) -> RemoveRequestHeaderService:
        """Wrap *inner*."""
        return RemoveRequestHeaderService(inner, _remover(self._names, self._prefix))


class RemoveResponseHeaderService:
    """Removes response header fields (see :class:`RemoveResponseHeaderLayer`)."""

    __slots__ = ("_remove", "inner")

    def __init__(self, inner: HttpService, remove: Callable[[HeaderMap], None]) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._remove = remove

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*, then remove the fields from the response."""
        response = await self.inner.serve(request)
        self._remove(response.headers)
        return response


class RemoveResponseHeaderLayer:
    """Removes response header fields by *names* and/or every field starting with *prefix*."""

    __slots__ = ("_names", "_prefix")

    def __init__(self, *names: str, prefix: str | None = None) -> None:
        """Remove *names* (case-insensitive) and fields whose name starts with *prefix*."""
        _check_remove(names, prefix)
        self._names, self._prefix = names, prefix

    def layer(self, inner: HttpService, /) -> RemoveResponseHeaderService:
        """Wrap *inner*."""
        return RemoveResponseHeaderService(inner, _remover(self._names, self._prefix))
