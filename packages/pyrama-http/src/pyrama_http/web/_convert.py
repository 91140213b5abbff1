"""Type-directed conversion of request data (compiled once per route, not per request).

:func:`text_converter` turns the text of a path segment, query or form value into a Python
type (``int``, ``float``, ``bool``, ``str``, enums, ``Literal``, ``Optional``);
:func:`json_converter` validates decoded JSON against a type (dataclasses, ``TypedDict``,
``list[X]``, ``dict[str, X]``, unions, ...); :func:`model_converter` builds a dataclass,
``TypedDict`` or ``dict`` from a multi-map of text values. Failures raise :class:`Invalid`
naming the field.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

__all__ = ["Invalid", "json_converter", "model_converter", "text_converter"]

Conv = Callable[[Any, str], Any]
"""A compiled converter: ``conv(value, field_path) -> converted`` (raises :class:`Invalid`)."""

_MISSING: Any = object()


class Invalid(Exception):
    """A value did not convert; :attr:`field` is its dotted path (``""`` for the whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def _typename(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _sub(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _is_union(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin is Union or origin is types.UnionType


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


def _strip_annotated(tp: Any) -> Any:
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    return tp


# -- text values -----------------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _text_int(v: Any, path: str) -> int:
    try:
        return int(v)
    except ValueError:
        raise Invalid(path, f"expected an integer, got {v!r}") from None


def _text_float(v: Any, path: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise Invalid(path, f"expected a number, got {v!r}") from None


def _text_bool(v: Any, path: str) -> bool:
    low = v.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise Invalid(path, f"expected a boolean (true/false), got {v!r}")


def _text_str(v: Any, path: str) -> str:
    return v  # type: ignore[no-any-return]


def text_converter(tp: Any) -> Conv:
    """A converter from one text value to *tp* (``TypeError`` for unsupported types)."""
    tp = _strip_annotated(tp)
    if tp is str or tp is Any:
        return _text_str
    if tp is int:
        return _text_int
    if tp is float:
        return _text_float
    if tp is bool:
        return _text_bool
    if tp is bytes:
        return lambda v, path: v.encode()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = tp

        def _enum(v: Any, path: str) -> Any:
            for m in members:
                if str(m.value) == v:
                    return m
            allowed = ", ".join(str(m.value) for m in members)
            raise Invalid(path, f"expected one of {allowed}, got {v!r}")

        return _enum
    if get_origin(tp) is Literal:
        choices = {str(c): c for c in get_args(tp)}

        def _literal(v: Any, path: str) -> Any:
            if v in choices:
                return choices[v]
            raise Invalid(path, f"expected one of {', '.join(choices)}, got {v!r}")

        return _literal
    if _is_union(tp):
        options = [a for a in get_args(tp) if a is not type(None)]
        convs = [text_converter(a) for a in options]

        def _union(v: Any, path: str) -> Any:
            last: Invalid | None = None
            for c in convs:
                try:
                    return c(v, path)
                except Invalid as exc:
                    last = exc
            assert last is not None
            raise last

        return _union
    raise TypeError(f"cannot convert text to {_typename(tp)}")


# -- multi-maps of text (query strings, forms) -------------------------------------------------


def _is_list(tp: Any) -> bool:
    return get_origin(tp) in (list, tuple, set, frozenset) or tp in (list, tuple, set)


def _field_from_values(tp: Any) -> Callable[[list[str], str], Any]:
    """Converter of all values of one field: a list type takes every value, others the last."""
    tp = _strip_annotated(tp)
    if _is_list(tp):
        origin = get_origin(tp) or tp
        args = get_args(tp)
        item = text_converter(args[0] if args else str)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis) and args:
            fixed = [text_converter(a) for a in args]

            def _fixed(vs: list[str], path: str) -> Any:
                if len(vs) != len(fixed):
                    raise Invalid(path, f"expected {len(fixed)} values, got {len(vs)}")
                return tuple(
                    c(v, _sub(path, i)) for i, (c, v) in enumerate(zip(fixed, vs, strict=True))
                )

            return _fixed
        make: Callable[[Any], Any] = {tuple: tuple, set: set, frozenset: frozenset}.get(
            origin, list
        )

        def _many(vs: list[str], path: str) -> Any:
            return make(item(v, _sub(path, i)) for i, v in enumerate(vs))

        return _many
    one = text_converter(tp)

    def _last(vs: list[str], path: str) -> Any:
        return one(vs[-1], path)

    return _last


def _is_optional(tp: Any) -> bool:
    return _is_union(tp) and type(None) in get_args(tp)


def model_converter(tp: Any) -> Callable[[Mapping[str, list[str]]], Any]:
    """A converter from a name -> [values] map to *tp*.

    *tp* is a dataclass, a ``TypedDict`` or ``dict[str, X]`` (``X`` a text type, or a list
    of one to take every value).
    """
    tp = _strip_annotated(tp)
    origin = get_origin(tp)
    if tp is dict or origin in (dict, Mapping) or tp is Mapping:
        args = get_args(tp)
        value_tp = args[1] if len(args) == 2 else str
        field = _field_from_values(value_tp)

        def _dict(src: Mapping[str, list[str]]) -> Any:
            return {k: field(vs, k) for k, vs in src.items()}

        return _dict
    fields: list[tuple[str, Callable[[list[str], str], Any], Any, bool]] = []
    build: Callable[[dict[str, Any]], Any]
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = get_type_hints(tp)
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            default = _MISSING
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory
            ftp = hints[f.name]
            if default is _MISSING and _is_optional(ftp):
                default = None
            fields.append(
                (
                    f.name,
                    _field_from_values(ftp),
                    default,
                    callable(default) and f.default_factory is not dataclasses.MISSING,
                )
            )
        cls = tp

        def _build_dc(kwargs: dict[str, Any]) -> Any:
            return cls(**kwargs)

        build = _build_dc
    elif _is_typeddict(tp):
        hints = get_type_hints(tp)
        required = tp.__required_keys__
        for name, ftp in hints.items():
            default = _MISSING if name in required else _SKIP
            fields.append((name, _field_from_values(ftp), default, False))
        build = dict
    else:
        raise TypeError(
            f"cannot build {_typename(tp)} from named values (use a dataclass, "
            "a TypedDict or dict[str, ...])"
        )

    def _model(src: Mapping[str, list[str]]) -> Any:
        kwargs: dict[str, Any] = {}
        for name, conv, default, factory in fields:
            vs = src.get(name)
            if vs:
                kwargs[name] = conv(vs, name)
            elif default is _MISSING:
                raise Invalid(name, "missing field")
            elif default is _SKIP:
                continue
            elif factory:
                kwargs[name] = default()
            else:
                kwargs[name] = default
        return build(kwargs)

    return _model


_SKIP: Any = object()


# -- JSON ------------------------------------------------------------------------------------


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _scalar(tp: type[Any], want: str) -> Conv:
    def _check(v: Any, path: str) -> Any:
        if type(v) is tp:
            return v
        if tp is float and type(v) is int:
            return float(v)
        raise Invalid(path, f"expected {want}, got {_jtype(v)}")

    return _check


def _any(v: Any, path: str) -> Any:
    return v


def json_converter(tp: Any) -> Conv:
    """A validator of decoded JSON against *tp* that also builds dataclasses.

    Supports ``str``, ``int`` (not ``bool``), ``float`` (ints accepted), ``bool``, ``None``,
    ``Any``/``object``, ``list[X]``, ``tuple[X, ...]``, ``tuple[X, Y]``, ``set[X]``,
    ``dict[str, X]``, unions / ``Optional``, ``Literal``, enums, dataclasses (unknown keys
    ignored, defaults used) and ``TypedDict`` (required keys checked).
    """
    tp = _strip_annotated(tp)
    if tp is Any or tp is object:
        return _any
    if tp is str:
        return _scalar(str, "a string")
    if tp is bool:
        return _scalar(bool, "a boolean")
    if tp is int:
        return _scalar(int, "an integer")
    if tp is float:
        return _scalar(float, "a number")
    if tp is None or tp is type(None):

        def _none(v: Any, path: str) -> Any:
            if v is not None:
                raise Invalid(path, f"expected null, got {_jtype(v)}")
            return None

        return _none
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is list or tp is dict:
        kind = list if tp is list else dict

        def _plain(v: Any, path: str) -> Any:
            if type(v) is not kind:
                raise Invalid(
                    path, f"expected {'an array' if kind is list else 'an object'}, got {_jtype(v)}"
                )
            return v

        return _plain
    if origin in (list, set, frozenset) or (origin is tuple and len(args) == 2 and args[1] is ...):
        item = json_converter(args[0]) if args else _any
        make: Callable[[Any], Any] = origin if origin is not list else list

        def _seq(v: Any, path: str) -> Any:
            if type(v) is not list:
                raise Invalid(path, f"expected an array, got {_jtype(v)}")
            return make([item(x, _sub(path, i)) for i, x in enumerate(v)])

        return _seq
    if origin is tuple:
        items = [json_converter(a) for a in args]

        def _tuple(v: Any, path: str) -> Any:
            if type(v) is not list or len(v) != len(items):
                raise Invalid(path, f"expected an array of {len(items)} items, got {_jtype(v)}")
            return tuple(c(x, _sub(path, i)) for i, (c, x) in enumerate(zip(items, v, strict=True)))

        return _tuple
    if origin in (dict, Mapping):
        value = json_converter(args[1]) if len(args) == 2 else _any

        def _map(v: Any, path: str) -> Any:
            if type(v) is not dict:
                raise Invalid(path, f"expected an object, got {_jtype(v)}")
            return {k: value(x, _sub(path, k)) for k, x in v.items()}

        return _map
    if origin is Literal:
        choices = args

        def _literal(v: Any, path: str) -> Any:
            for c in choices:
                if v == c and type(v) is type(c):
                    return v
            raise Invalid(path, f"expected one of {', '.join(repr(c) for c in choices)}")

        return _literal
    if _is_union(tp):
        convs = [json_converter(a) for a in args]

        def _union(v: Any, path: str) -> Any:
            first: Invalid | None = None
            for c in convs:
                try:
                    return c(v, path)
                except Invalid as exc:
                    if first is None or (exc.field != path and first.field == path):
                        first = exc
            assert first is not None
            raise first

        return _union
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        enum_tp = tp

        def _enum(v: Any, path: str) -> Any:
            try:
                return enum_tp(v)
            except ValueError:
                allowed = ", ".join(repr(m.value) for m in enum_tp)
                raise Invalid(path, f"expected one of {allowed}") from None

        return _enum
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp)
    if _is_typeddict(tp):
        return _typeddict(tp)
    raise TypeError(f"cannot validate JSON as {_typename(tp)}")


def _dataclass(tp: type[Any]) -> Conv:
    hints = get_type_hints(tp)
    fields: list[tuple[str, Conv, bool]] = []
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        fields.append((f.name, json_converter(hints[f.name]), required))
    cls = tp

    def _build(v: Any, path: str) -> Any:
        if type(v) is not dict:
            raise Invalid(path, f"expected an object, got {_jtype(v)}")
        kwargs: dict[str, Any] = {}
        for name, conv, required in fields:
            x = v.get(name, _MISSING)
            if x is _MISSING:
                if required:
                    raise Invalid(_sub(path, name), "missing field")
                continue
            kwargs[name] = conv(x, _sub(path, name))
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:  # a __post_init__ refused it
            raise Invalid(path, str(exc)) from None

    return _build


def _typeddict(tp: type[Any]) -> Conv:
    hints = get_type_hints(tp)
    required = tp.__required_keys__
    fields = [(name, json_converter(ftp), name in required) for name, ftp in hints.items()]

    def _build(v: Any, path: str) -> Any:
        if type(v) is not dict:
            raise Invalid(path, f"expected an object, got {_jtype(v)}")
        out: dict[str, Any] = {}
        for name, conv, req in fields:
            x = v.get(name, _MISSING)
            if x is _MISSING:
                if req:
                    raise Invalid(_sub(path, name), "missing field")
                continue
            out[name] = conv(x, _sub(path, name))
        return out

    return _build
