"""Lazy sub-packages: ``pyrama.tcp`` is ``pyrama_tcp``, imported on first use.

Each family member ships as its own distribution (``pyrama-tcp`` imports as ``pyrama_tcp``).
The umbrella exposes them as ``pyrama.<name>`` without importing any of them up front:

* ``pyrama.tcp`` (attribute access) goes through the package's module ``__getattr__``;
* ``import pyrama.tcp`` / ``from pyrama.tcp import TcpListener`` go through a small
  meta-path finder that answers only for ``pyrama.<name>`` and ``pyrama.<name>.<sub>``
  and makes them aliases: ``sys.modules["pyrama.tcp"] is pyrama_tcp``. Sub-modules map the
  same way (``pyrama.tcp.unix`` is ``pyrama_tcp.unix``), so no module is ever loaded twice.

A sub-package whose distribution is not installed raises
:class:`~pyrama.errors.MissingDistributionError` naming the ``pip install`` that fixes it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from pyrama.errors import MissingDistributionError

__all__ = ["SUBPACKAGES", "SubPackage", "install_alias_finder", "load_subpackage"]

_PREFIX = "pyrama."


@dataclass(frozen=True, slots=True)
class SubPackage:
    """One family member reachable as ``pyrama.<attribute>``."""

    attribute: str
    module: str
    distribution: str

    @property
    def extra(self) -> str:
        """The umbrella extra that would install it (``pyrama[<extra>]``), if declared."""
        return self.distribution.removeprefix("pyrama-")


def _member(attribute: str) -> SubPackage:
    return SubPackage(attribute, f"pyrama_{attribute}", "pyrama-" + attribute.replace("_", "-"))


#: Every sub-package the umbrella knows, by attribute name.
SUBPACKAGES: dict[str, SubPackage] = {
    p.attribute: p
    for p in map(
        _member,
        (
            "core",
            "net",
            "tcp",
            "udp",
            "tls",
            "http_types",
            "http_core",
            "http",
            "socks5",
            "haproxy",
            "ua",
            "ws",
            "grpc",
            "proxy",
        ),
    )
}

_BY_MODULE: dict[str, SubPackage] = {p.module: p for p in SUBPACKAGES.values()}


def _declared_extras() -> frozenset[str]:
    try:
        extras = importlib.metadata.metadata("pyrama").get_all("Provides-Extra") or []
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return frozenset()
    return frozenset(e.lower().replace("_", "-") for e in extras)


def _missing(wanted: SubPackage, exc: ModuleNotFoundError) -> MissingDistributionError | None:
    """The helpful error for *exc*, if it means a pyrama distribution is absent."""
    # only a missing top-level ``pyrama_<x>`` means a missing distribution; a missing
    # sub-module of an installed one is an ordinary ModuleNotFoundError
    absent = _BY_MODULE.get(exc.name or "")
    if absent is None:
        return None
    extra = absent.extra if absent.extra in _declared_extras() else None
    return MissingDistributionError(
        attribute=wanted.attribute if absent is wanted else absent.attribute,
        module=absent.module,
        distribution=absent.distribution,
        extra=extra,
    )


def _import_target(wanted: SubPackage, target: str) -> ModuleType:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        err = _missing(wanted, exc)
        if err is None:
            raise
        raise err from exc


class _AliasLoader(importlib.abc.Loader):
    """Loads ``pyrama.<name>[.<sub>]`` by importing the real module and aliasing it."""

    def __init__(self, wanted: SubPackage, target: str) -> None:
        self._wanted = wanted
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        # a throwaway module: the real one replaces it in exec_module, untouched by the
        # import machinery (its __spec__, __name__, __file__ stay its own)
        return None

    def exec_module(self, module: ModuleType) -> None:
        sys.modules[module.__name__] = _import_target(self._wanted, self._target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Answers only for ``pyrama.<known sub-package>`` names; everything else passes by."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        head, _, rest = fullname[len(_PREFIX) :].partition(".")
        wanted = SUBPACKAGES.get(head)
        if wanted is None:
            return None
        real = f"{wanted.module}.{rest}" if rest else wanted.module
        return importlib.util.spec_from_loader(fullname, _AliasLoader(wanted, real))

    def __repr__(self) -> str:
        return "pyrama._lazy._AliasFinder()"


_FINDER = _AliasFinder()


def install_alias_finder() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        # first: the path finder would otherwise load pyrama.tcp.unix as a second copy of
        # pyrama_tcp.unix from the aliased package's __path__
        sys.meta_path.insert(0, _FINDER)


def load_subpackage(attribute: str) -> ModuleType:
    """Import and return ``pyrama.<attribute>`` (the real ``pyrama_<attribute>`` module)."""
    return importlib.import_module(_PREFIX + attribute)
