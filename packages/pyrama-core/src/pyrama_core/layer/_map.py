"""Map layers: change the input, the output or the error of the inner service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

from pyrama_core._service import Service
from pyrama_core._util import is_async_callable

__all__ = [
    "MapErrLayer",
    "MapErrService",
    "MapInputLayer",
    "MapInputService",
    "MapOutputLayer",
    "MapOutputService",
]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
A = TypeVar("A")
B = TypeVar("B")


def _name(fn: object) -> str:
    return str(getattr(fn, "__qualname__", fn))


class MapInputService(Generic[A, I, O]):
    """Calls ``fn(input)`` and serves the result with the inner service."""

    __slots__ = ("_async", "_fn", "inner")

    def __init__(self, inner: Service[I, O], fn: Callable[[A], Any], is_async: bool) -> None:
        """Wrap *inner*; *is_async* says whether *fn* returns an awaitable."""
        self.inner = inner
        self._fn = fn
        self._async = is_async

    async def serve(self, input: A, /) -> O:
        """Map *input*, then serve it."""
        mapped: I = (await self._fn(input)) if self._async else self._fn(input)
        return await self.inner.serve(mapped)

    def __repr__(self) -> str:
        return f"MapInputService({_name(self._fn)}, {self.inner!r})"


class MapInputLayer(Generic[A, I]):
    """Maps each input with *fn* (a plain or an async function) before the inner service."""

    __slots__ = ("_async", "fn")

    @overload
    def __init__(self, fn: Callable[[A], Awaitable[I]]) -> None: ...
    @overload
    def __init__(self, fn: Callable[[A], I]) -> None: ...
    def __init__(self, fn: Callable[[A], Any]) -> None:
        """Use *fn* to map inputs; async functions are awaited."""
        self.fn = fn
        self._async = is_async_callable(fn)

    def layer(self, inner: Service[I, O], /) -> MapInputService[A, I, O]:
        """Wrap *inner*."""
        return MapInputService(inner, self.fn, self._async)

    def __repr__(self) -> str:
        return f"MapInputLayer({_name(self.fn)})"


class MapOutputService(Generic[I, O, B]):
    """Serves with the inner service and returns ``fn(output)``."""

    __slots__ = ("_async", "_fn", "inner")

    def __init__(self, inner: Service[I, O], fn: Callable[[O], Any], is_async: bool) -> None:
        """Wrap *inner*; *is_async* says whether *fn* returns an awaitable."""
        self.inner = inner
        self._fn = fn
        self._async = is_async

    async def serve(self, input: I, /) -> B:
        """Serve *input*, then map the output."""
        output = await self.inner.serve(input)
        if self._async:
            mapped: B = await self._fn(output)
            return mapped
        result: B = self._fn(output)
        return result

    def __repr__(self) -> str:
        return f"MapOutputService({_name(self._fn)}, {self.inner!r})"


class MapOutputLayer(Generic[O, B]):
    """Maps each output of the inner service with *fn* (plain or async)."""

    __slots__ = ("_async", "fn")

    @overload
    def __init__(self, fn: Callable[[O], Awaitable[B]]) -> None: ...
    @overload
    def __init__(self, fn: Callable[[O], B]) -> None: ...
    def __init__(self, fn: Callable[[O], Any]) -> None:
        """Use *fn* to map outputs; async functions are awaited."""
        self.fn = fn
        self._async = is_async_callable(fn)

    def layer(self, inner: Service[I, O], /) -> MapOutputService[I, O, B]:
        """Wrap *inner*."""
        return MapOutputService(inner, self.fn, self._async)

    def __repr__(self) -> str:
        return f"MapOutputLayer({_name(self.fn)})"


class MapErrService(Generic[I, O]):
    """Re-raises errors of the inner service as ``fn(error)``."""

    __slots__ = ("_async", "_fn", "inner")

    def __init__(self, inner: Service[I, O], fn: Callable[[Exception], Any], is_async: bool):
        """Wrap *inner*; *is_async* says whether *fn* returns an awaitable."""
        self.inner = inner
        self._fn = fn
        self._async = is_async

    async def serve(self, input: I, /) -> O:
        """Serve *input*; map and raise any ``Exception`` it raises."""
        try:
            return await self.inner.serve(input)
        except Exception as exc:
            mapped: BaseException = (await self._fn(exc)) if self._async else self._fn(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def __repr__(self) -> str:
        return f"MapErrService({_name(self._fn)}, {self.inner!r})"


class MapErrLayer:
    """Maps every ``Exception`` the inner service raises with *fn* (plain or async).

    The returned exception is raised with the original as ``__cause__``; returning the
    original itself re-raises it untouched. Cancellation (``BaseException``) is never
    mapped.
    """

    __slots__ = ("_async", "fn")

    def __init__(
        self,
        fn: Callable[[Exception], BaseException] | Callable[[Exception], Awaitable[BaseException]],
    ) -> None:
        """Use *fn* to map errors; async functions are awaited."""
        self.fn = fn
        self._async = is_async_callable(fn)

    def layer(self, inner: Service[I, O], /) -> MapErrService[I, O]:
        """Wrap *inner*."""
        return MapErrService(inner, self.fn, self._async)

    def __repr__(self) -> str:
        return f"MapErrLayer({_name(self.fn)})"
