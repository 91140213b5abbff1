"""Service and Layer: the two shapes every pyrama component takes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

__all__ = [
    "BoxService",
    "Identity",
    "Layer",
    "Service",
    "ServiceFn",
    "Stack",
    "layers",
    "service_fn",
]

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)
I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
S = TypeVar("S")
S2 = TypeVar("S2", covariant=True)
S_contra = TypeVar("S_contra", contravariant=True)


@runtime_checkable
class Service(Protocol[In, Out]):
    """Anything that turns an input into an output, asynchronously.

    Errors are raised, not returned. A service is shared by every connection or request that
    uses it, so it must not keep per-call state on ``self``; put that in the input's
    ``Extensions`` instead.
    """

    async def serve(self, input: In, /) -> Out:
        """Handle one input."""
        ...


@runtime_checkable
class Layer(Protocol[S_contra, S2]):
    """Wraps a service into another service (middleware)."""

    def layer(self, inner: S_contra, /) -> S2:
        """Return a service that wraps *inner*."""
        ...


class ServiceFn(Generic[I, O]):
    """A service made from an ``async def f(input) -> output`` function."""

    __slots__ = ("_fn", "serve")

    def __init__(self, fn: Callable[[I], Coroutine[Any, Any, O]]) -> None:
        self._fn = fn
        # bind directly: calling svc.serve(x) costs one call, not two
        self.serve: Callable[[I], Coroutine[Any, Any, O]] = fn

    def __repr__(self) -> str:
        return f"service_fn({getattr(self._fn, '__qualname__', self._fn)!r})"


def service_fn(fn: Callable[[I], Coroutine[Any, Any, O]]) -> ServiceFn[I, O]:
    """Make a :class:`Service` from an async function (usable as a decorator)."""
    return ServiceFn(fn)


class BoxService(Generic[I, O]):
    """A type-erased service: hides the concrete type of a (possibly deep) layered stack.

    Useful to store services of different concrete types in one list or attribute.
    """

    __slots__ = ("inner", "serve")

    def __init__(self, inner: Service[I, O]) -> None:
        self.inner = inner
        self.serve: Callable[[I], Coroutine[Any, Any, O]] = inner.serve

    def __repr__(self) -> str:
        return f"BoxService({self.inner!r})"


class Identity:
    """The layer that returns its inner service unchanged."""

    def layer(self, inner: S) -> S:
        """Return *inner* itself."""
        return inner


class Stack:
    """An ordered stack of layers; the first layer given is the outermost.

    ``Stack(a, b, c).into(svc)`` is ``a.layer(b.layer(c.layer(svc)))``: an input passes
    through ``a`` first, then ``b``, then ``c``, then reaches ``svc``. The stack is built once;
    nothing is rebuilt per call.
    """

    __slots__ = ("_layers",)

    def __init__(self, *stack: Layer[Any, Any]) -> None:
        for lay in stack:
            if not callable(getattr(lay, "layer", None)):
                raise TypeError(f"{lay!r} is not a Layer (it has no .layer method)")
        self._layers: tuple[Layer[Any, Any], ...] = stack

    def layer(self, inner: Any) -> Any:
        """Wrap *inner* in every layer of the stack (so a Stack is itself a Layer)."""
        svc = inner
        for lay in reversed(self._layers):
            svc = lay.layer(svc)
        return svc

    def into(self, inner: Any) -> Any:
        """Alias of :meth:`layer` that reads well at the end of a definition."""
        return self.layer(inner)

    def __len__(self) -> int:
        return len(self._layers)

    def __repr__(self) -> str:
        return f"layers({', '.join(repr(x) for x in self._layers)})"


def layers(*stack: Layer[Any, Any]) -> Stack:
    """Stack layers, first = outermost: ``layers(Trace(), Timeout(5)).into(handler)``."""
    return Stack(*stack)
