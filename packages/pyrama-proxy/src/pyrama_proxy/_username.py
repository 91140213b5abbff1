"""Username labels: configuration carried in a proxy username (``john-country-us-residential``).

A username is split at a separator (``-`` by default). The first part is the user's name; every
later part is a *label* offered, in order, to a set of :class:`UsernameLabelParser` objects made
fresh for each username. The first parser that uses a label consumes it; a label no parser uses
is an error. When all labels are consumed each parser's :meth:`~UsernameLabelParser.finish`
stores what it parsed in an :class:`~pyrama_core.Extensions` (or raises if its input was
incomplete, such as ``country`` without a value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from pyrama_core import Extensions
from pyrama_proxy._proxy import ProxyFilter, normalize_value
from pyrama_proxy.errors import UsernameLabelError

__all__ = [
    "ProxyFilterLabelParser",
    "UsernameLabelParser",
    "format_username_labels",
    "parse_username",
    "parse_username_labels",
]

_MAX_USERNAME = 1024
"""Longest username (in characters) the label parser accepts."""
_MAX_LABELS = 64
"""Most labels one username may carry."""


@runtime_checkable
class UsernameLabelParser(Protocol):
    """A stateful parser for one username's labels, made fresh per username."""

    def parse_label(self, label: str) -> bool:
        """Consume *label* and return ``True``, or return ``False`` to leave it to others.

        Raise :class:`~pyrama_proxy.errors.UsernameLabelError` for a label it owns but cannot
        accept (a bad value).
        """
        ...

    def finish(self, extensions: Extensions) -> None:
        """Store what was parsed in *extensions*; raise if a label was left incomplete."""
        ...


_VALUE_KEYS: dict[str, str] = {
    "id": "id",
    "pool": "pool_id",
    "continent": "continent",
    "country": "country",
    "state": "state",
    "city": "city",
    "carrier": "carrier",
    "asn": "asn",
}
_FLAG_KEYS = ("datacenter", "residential", "mobile")
_TRUE = frozenset(("true", "1", "yes"))
_FALSE = frozenset(("false", "0", "no"))


class ProxyFilterLabelParser:
    """Parses :class:`~pyrama_proxy.ProxyFilter` labels.

    * ``<key>-<value>`` for ``id``, ``pool``, ``continent``, ``country``, ``state``, ``city``,
      ``carrier`` and ``asn`` (a decimal number). Repeating a key adds accepted values:
      ``country-us-country-ca`` accepts either.
    * ``datacenter``, ``residential``, ``mobile`` on their own require the flag; followed by
      ``true``/``false`` (also ``yes``/``no``, ``1``/``0``) they require that value.

    Keys are case-insensitive; values compare through
    :func:`~pyrama_proxy.normalize_value`. :meth:`finish` inserts a ``ProxyFilter`` only if at
    least one label was parsed.
    """

    __slots__ = ("_flags", "_pending_flag", "_pending_key", "_used", "_values")

    def __init__(self) -> None:
        self._values: dict[str, list[str] | list[int]] = {}
        self._flags: dict[str, bool] = {}
        self._pending_key: str | None = None
        self._pending_flag: str | None = None
        self._used = False

    def parse_label(self, label: str) -> bool:
        """Consume a key, a value for the pending key, or a flag's ``true``/``false``."""
        key = self._pending_key
        if key is not None:
            self._pending_key = None
            self._add_value(key, label)
            return True
        lowered = label.casefold()
        flag = self._pending_flag
        if flag is not None:
            self._pending_flag = None
            if lowered in _TRUE or lowered in _FALSE:
                self._set_flag(flag, lowered in _TRUE, label)
                return True
            self._set_flag(flag, True, flag)
        if lowered in _VALUE_KEYS:
            self._pending_key = _VALUE_KEYS[lowered]
            self._used = True
            return True
        if lowered in _FLAG_KEYS:
            self._pending_flag = lowered
            self._used = True
            return True
        return False

    def _set_flag(self, name: str, value: bool, label: str) -> None:
        old = self._flags.get(name)
        if old is not None and old is not value:
            raise UsernameLabelError(f"label {name!r} is given both true and false", label=label)
        self._flags[name] = value

    def _add_value(self, field: str, label: str) -> None:
        if field == "asn":
            if not label.isascii() or not label.isdigit() or len(label) > 10:
                raise UsernameLabelError(f"asn label value {label!r} is not a number", label=label)
            asn = int(label)
            if asn > 0xFFFF_FFFF:
                raise UsernameLabelError(f"asn label value {label!r} is out of range", label=label)
            asns = self._values.setdefault("asn", [])
            if asn not in asns:
                asns.append(asn)  # type: ignore[arg-type]
            return
        value = normalize_value(label)
        if not value:
            raise UsernameLabelError(f"label {field!r} has an empty value", label=label)
        values = self._values.setdefault(field, [])
        if value not in values:
            values.append(value)  # type: ignore[arg-type]

    def finish(self, extensions: Extensions) -> None:
        """Insert the parsed :class:`~pyrama_proxy.ProxyFilter` (if any label was parsed)."""
        if self._pending_key is not None:
            name = next(k for k, v in _VALUE_KEYS.items() if v == self._pending_key)
            raise UsernameLabelError(f"label {name!r} needs a value after it", label=name)
        if self._pending_flag is not None:
            self._set_flag(self._pending_flag, True, self._pending_flag)
            self._pending_flag = None
        if not self._used:
            return
        kwargs: dict[str, object] = {k: tuple(v) for k, v in self._values.items()}
        kwargs.update(self._flags)
        extensions.insert(ProxyFilter(**kwargs))  # type: ignore[arg-type]


LabelParserFactory = Callable[[], UsernameLabelParser]


def parse_username(
    username: str,
    parsers: Sequence[LabelParserFactory] = (ProxyFilterLabelParser,),
    *,
    separator: str = "-",
) -> tuple[str, Extensions]:
    """Split *username* into the user's name and the extensions its labels configure.

    *parsers* are factories (such as the parser classes themselves), called once per username.
    Raises :class:`~pyrama_proxy.errors.UsernameLabelError` for an empty username or name, an
    empty label (``john--country``), a label no parser uses, an incomplete label, or more than
    64 labels / 1024 characters.
    """
    if not isinstance(username, str):
        raise UsernameLabelError(f"a username must be a str, got {type(username).__name__}")
    if not separator:
        raise UsernameLabelError("the label separator may not be empty")
    if len(username) > _MAX_USERNAME:
        raise UsernameLabelError(f"the username is longer than {_MAX_USERNAME} characters")
    name, *labels = username.split(separator)
    if not name:
        raise UsernameLabelError("the username has no name before its labels")
    if len(labels) > _MAX_LABELS:
        raise UsernameLabelError(f"the username has more than {_MAX_LABELS} labels")
    extensions = Extensions()
    if not labels:
        return name, extensions
    active = [factory() for factory in parsers]
    for label in labels:
        if not label:
            raise UsernameLabelError(
                f"the username has an empty label ({separator!r} twice or at the end)", label=""
            )
        for parser in active:
            if parser.parse_label(label):
                break
        else:
            raise UsernameLabelError(f"unknown username label {label!r}", label=label)
    for parser in active:
        parser.finish(extensions)
    return name, extensions


def parse_username_labels(username: str, *, separator: str = "-") -> tuple[str, ProxyFilter | None]:
    """Parse ``john-country-us-residential-city-new_york`` into ``("john", ProxyFilter(...))``.

    The filter is ``None`` when the username has no labels. This fits the username-parser hook
    of a proxy's authentication layer: the name is checked against the configured users, the
    filter goes into the request's extensions for :class:`~pyrama_proxy.ProxySelectLayer`.
    Raises :class:`~pyrama_proxy.errors.UsernameLabelError` as :func:`parse_username` does.
    """
    name, extensions = parse_username(username, (ProxyFilterLabelParser,), separator=separator)
    return name, extensions.get(ProxyFilter)


def format_username_labels(name: str, proxy_filter: ProxyFilter, *, separator: str = "-") -> str:
    """The username that :func:`parse_username_labels` reads back as (*name*, *proxy_filter*).

    Values must not contain *separator* (normalized values never contain spaces).
    """
    parts = [name]
    for key, field in _VALUE_KEYS.items():
        values: tuple[object, ...] | None = getattr(proxy_filter, field)
        for value in values or ():
            text = str(value)
            if separator in text:
                raise UsernameLabelError(
                    f"value {text!r} of {key!r} contains the separator {separator!r}", label=key
                )
            parts += (key, text)
    for flag in _FLAG_KEYS:
        setting: bool | None = getattr(proxy_filter, flag)
        if setting is not None:
            parts += (flag,) if setting else (flag, "false")
    return separator.join(parts)
