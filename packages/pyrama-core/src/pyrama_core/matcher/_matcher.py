"""Matchers: predicates over an input, composable with ``&``, ``|`` and ``~``."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from pyrama_core._extensions import Extensions

__all__ = [
    "Always",
    "And",
    "BaseMatcher",
    "FnMatcher",
    "Matcher",
    "Never",
    "Not",
    "Or",
    "match_fn",
]

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


@runtime_checkable
class Matcher(Protocol[T_contra]):
    """Decides whether an input matches.

    *extensions*, when not ``None``, is a scratch map the matcher may insert into
    (captured path parameters, the matched rule); the caller merges it into the input's
    extensions only when the whole match succeeded. Matchers must not keep per-call state.
    """

    def matches(self, input: T_contra, extensions: Extensions | None = None, /) -> bool:
        """Whether *input* matches."""
        ...


class BaseMatcher(ABC, Generic[T]):
    """A base class giving matchers operator sugar: ``a & b``, ``a | b``, ``~a``."""

    __slots__ = ()

    @abstractmethod
    def matches(self, input: T, extensions: Extensions | None = None, /) -> bool:
        """Whether *input* matches."""

    def __and__(self, other: Matcher[T]) -> And[T]:
        left = self.matchers if isinstance(self, And) else (self,)
        right = other.matchers if isinstance(other, And) else (other,)
        return And(*left, *right)

    def __or__(self, other: Matcher[T]) -> Or[T]:
        left = self.matchers if isinstance(self, Or) else (self,)
        right = other.matchers if isinstance(other, Or) else (other,)
        return Or(*left, *right)

    def __rand__(self, other: Matcher[T]) -> And[T]:
        right = self.matchers if isinstance(self, And) else (self,)
        return And(other, *right)

    def __ror__(self, other: Matcher[T]) -> Or[T]:
        right = self.matchers if isinstance(self, Or) else (self,)
        return Or(other, *right)

    def __invert__(self) -> BaseMatcher[T]:
        if isinstance(self, Not):
            return self._inner_base()
        return Not(self)


def _check(matchers: tuple[Matcher[Any], ...]) -> None:
    for m in matchers:
        if not callable(getattr(m, "matches", None)):
            raise TypeError(f"{m!r} is not a Matcher (it has no .matches method)")


class And(BaseMatcher[T]):
    """Matches when every matcher matches (``True`` for none); stops at the first miss.

    Values the matchers insert land in the caller's extensions only if all of them match.
    """

    __slots__ = ("matchers",)

    def __init__(self, *matchers: Matcher[T]) -> None:
        """Combine *matchers*."""
        _check(matchers)
        self.matchers: tuple[Matcher[T], ...] = matchers

    def matches(self, input: T, extensions: Extensions | None = None, /) -> bool:
        """Whether all matchers match *input*."""
        if extensions is None:
            return all(m.matches(input, None) for m in self.matchers)
        scratch = Extensions()
        for m in self.matchers:
            if not m.matches(input, scratch):
                return False
        extensions.extend(scratch)
        return True

    def __repr__(self) -> str:
        return f"And({', '.join(repr(m) for m in self.matchers)})"


class Or(BaseMatcher[T]):
    """Matches when any matcher matches (``False`` for none); the first match wins.

    Only the values inserted by the matcher that matched reach the caller's extensions.
    """

    __slots__ = ("matchers",)

    def __init__(self, *matchers: Matcher[T]) -> None:
        """Combine *matchers*."""
        _check(matchers)
        self.matchers: tuple[Matcher[T], ...] = matchers

    def matches(self, input: T, extensions: Extensions | None = None, /) -> bool:
        """Whether any matcher matches *input*."""
        if extensions is None:
            return any(m.matches(input, None) for m in self.matchers)
        for m in self.matchers:
            scratch = Extensions()
            if m.matches(input, scratch):
                extensions.extend(scratch)
                return True
        return False

    def __repr__(self) -> str:
        return f"Or({', '.join(repr(m) for m in self.matchers)})"


class Not(BaseMatcher[T]):
    """Matches when *matcher* does not; whatever it inserted is discarded."""

    __slots__ = ("matcher",)

    def __init__(self, matcher: Matcher[T]) -> None:
        """Negate *matcher*."""
        _check((matcher,))
        self.matcher = matcher

    def matches(self, input: T, extensions: Extensions | None = None, /) -> bool:
        """Whether *matcher* does not match *input*."""
        return not self.matcher.matches(input, None if extensions is None else Extensions())

    def _inner_base(self) -> BaseMatcher[T]:
        inner = self.matcher
        return inner if isinstance(inner, BaseMatcher) else And(inner)

    def __repr__(self) -> str:
        return f"Not({self.matcher!r})"


class Always(BaseMatcher[Any]):
    """Matches everything."""

    __slots__ = ()

    def matches(self, input: Any, extensions: Extensions | None = None, /) -> bool:
        """Always ``True``."""
        return True

    def __repr__(self) -> str:
        return "Always()"


class Never(BaseMatcher[Any]):
    """Matches nothing."""

    __slots__ = ()

    def matches(self, input: Any, extensions: Extensions | None = None, /) -> bool:
        """Always ``False``."""
        return False

    def __repr__(self) -> str:
        return "Never()"


class FnMatcher(BaseMatcher[T]):
    """A matcher made from a predicate function (see :func:`match_fn`)."""

    __slots__ = ("_fn", "_with_ext")

    def __init__(
        self,
        fn: Callable[[T], bool] | Callable[[T, Extensions | None], bool],
    ) -> None:
        """Wrap *fn*; it gets the extensions too when it takes two positional arguments."""
        self._fn: Callable[..., bool] = fn
        self._with_ext = _positional_arity(fn) >= 2

    def matches(self, input: T, extensions: Extensions | None = None, /) -> bool:
        """``fn(input)`` or ``fn(input, extensions)``, as a bool."""
        if self._with_ext:
            return bool(self._fn(input, extensions))
        return bool(self._fn(input))

    def __repr__(self) -> str:
        return f"match_fn({getattr(self._fn, '__qualname__', self._fn)})"


def _positional_arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: input only
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return sum(1 for p in params if p.kind in kinds)


def match_fn(
    fn: Callable[[T], bool] | Callable[[T, Extensions | None], bool],
) -> FnMatcher[T]:
    """Make a matcher from ``fn(input) -> bool`` or ``fn(input, extensions) -> bool``.

    Usable as a decorator; the result supports ``&``, ``|`` and ``~``.
    """
    return FnMatcher(fn)
