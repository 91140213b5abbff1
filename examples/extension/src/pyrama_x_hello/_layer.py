"""HelloLayer: greets each stream, then hands it to the inner service."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from pyrama_core import Service

__all__ = ["DESCRIPTION", "GreetingStream", "HelloLayer", "HelloService"]

DESCRIPTION = "Writes a greeting to every stream before the inner service sees it."
"""One line saying what this extension does (for docs and listings)."""

O = TypeVar("O")  # noqa: E741
S = TypeVar("S", bound="GreetingStream")


class GreetingStream(Protocol):
    """The part of a byte stream :class:`HelloLayer` needs: ``write`` and ``drain``.

    Every ``pyrama_net.Stream`` satisfies it.
    """

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Queue *data* for sending."""
        ...

    async def drain(self) -> None:
        """Wait until the write queue is below the high-water mark."""
        ...


class HelloService(Generic[S, O]):
    """The service :class:`HelloLayer` makes: greet, then serve the stream with *inner*."""

    __slots__ = ("greeting", "inner")

    def __init__(self, inner: Service[S, O], greeting: bytes) -> None:
        self.inner = inner
        self.greeting = greeting

    async def serve(self, stream: S, /) -> O:
        """Write the greeting to *stream*, then let the inner service handle it."""
        stream.write(self.greeting)
        await stream.drain()
        return await self.inner.serve(stream)


class HelloLayer:
    r"""A layer that writes *greeting* to every stream first (default ``b"hello\n"``)."""

    __slots__ = ("greeting",)

    def __init__(self, greeting: bytes = b"hello\n") -> None:
        if not greeting:
            raise ValueError("the greeting must not be empty")
        self.greeting = greeting

    def layer(self, inner: Service[S, O]) -> HelloService[S, O]:
        """Wrap *inner* so every stream is greeted before it runs."""
        return HelloService(inner, self.greeting)
