"""AddExtensionLayer: insert a value into every input's extensions."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pyrama_core._protocols import HasExtensions
from pyrama_core._service import Service

__all__ = ["AddExtensionLayer", "AddExtensionService"]

E = TypeVar("E", bound=HasExtensions)
O = TypeVar("O")  # noqa: E741


class AddExtensionService(Generic[E, O]):
    """Inserts a value into ``input.extensions``, then serves the input."""

    __slots__ = ("_key", "_value", "inner")

    def __init__(self, inner: Service[E, O], value: object, key: type[Any] | None) -> None:
        """Wrap *inner*; *value* is stored under *key* (default: its own type)."""
        self.inner = inner
        self._value = value
        self._key = key

    async def serve(self, input: E, /) -> O:
        """Insert the value into *input*'s extensions and serve it."""
        input.extensions.insert(self._value, self._key)
        return await self.inner.serve(input)

    def __repr__(self) -> str:
        return f"AddExtensionService({self._value!r}, {self.inner!r})"


class AddExtensionLayer:
    """Inserts *value* into the extensions of every input (anything with ``.extensions``).

    The same object is inserted every time, so it should be immutable or meant to be
    shared (a config, a database handle). *key* stores it under a supertype.
    """

    __slots__ = ("key", "value")

    def __init__(self, value: object, *, key: type[Any] | None = None) -> None:
        """Insert *value* (under *key*, default its type)."""
        if key is not None and not isinstance(value, key):
            raise TypeError(f"{value!r} is not an instance of {key.__name__}")
        self.value = value
        self.key = key

    def layer(self, inner: Service[E, O], /) -> AddExtensionService[E, O]:
        """Wrap *inner*."""
        return AddExtensionService(inner, self.value, self.key)

    def __repr__(self) -> str:
        return f"AddExtensionLayer({self.value!r})"
