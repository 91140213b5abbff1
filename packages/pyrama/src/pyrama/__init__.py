"""pyrama: a modular service framework to move and transform network packets.

This umbrella re-exports the core vocabulary and reaches every family member as a lazy
sub-package::

    import pyrama

    svc = pyrama.layers(...).into(handler)        # core names: eager (pyrama-core is required)
    listener = await pyrama.tcp.TcpListener.bind("127.0.0.1:8080")   # imports pyrama_tcp now
    from pyrama.udp import UdpSocket              # also works: pyrama.udp is pyrama_udp

``pyrama.<x>`` *is* the module ``pyrama_<x>`` from the distribution ``pyrama-<x>``; nothing
is imported until it is used. Using one that is not installed raises
:class:`~pyrama.errors.MissingDistributionError`, whose message says what to ``pip install``
(``pip install pyrama-tcp`` or ``pip install "pyrama[tcp]"``).

Community extensions (``pyrama-x-<name>`` distributions) are found with
:func:`list_extensions` and loaded with :func:`load_extension`.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from pyrama._lazy import SUBPACKAGES, install_alias_finder, load_subpackage
from pyrama._registry import (
    EXTENSION_GROUP,
    DistributionInfo,
    ExtensionInfo,
    installed_distributions,
    list_extensions,
    load_extension,
)
from pyrama_core import (
    BoxService,
    Extensions,
    Layer,
    PyramaError,
    Service,
    layers,
    service_fn,
)

if TYPE_CHECKING:
    # type checkers see the sub-packages as the modules they alias (see pyrama/<x>.pyi);
    # a new family member gets a pyrama/<x>.pyi stub and a line here once it exists
    from pyrama import core as core
    from pyrama import haproxy as haproxy
    from pyrama import http as http
    from pyrama import http_core as http_core
    from pyrama import http_types as http_types
    from pyrama import net as net
    from pyrama import proxy as proxy
    from pyrama import socks5 as socks5
    from pyrama import tcp as tcp
    from pyrama import tls as tls
    from pyrama import udp as udp

__all__ = [
    "EXTENSION_GROUP",
    "BoxService",
    "DistributionInfo",
    "ExtensionInfo",
    "Extensions",
    "Layer",
    "PyramaError",
    "Service",
    "installed_distributions",
    "layers",
    "list_extensions",
    "load_extension",
    "service_fn",
]

__version__ = "0.1.0"

install_alias_finder()


def __getattr__(name: str) -> ModuleType:
    """Import the sub-package ``pyrama.<name>`` (``pyrama_<name>``) on first access."""
    if name in SUBPACKAGES:
        return load_subpackage(name)
    raise AttributeError(f"module 'pyrama' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Public names plus every sub-package (installed or not)."""
    return sorted({*globals(), *SUBPACKAGES})
