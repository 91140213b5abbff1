"""Type-checker view of ``pyrama.udp``: at run time it is the module ``pyrama_udp`` itself."""

from pyrama_udp import *  # noqa: F403
from pyrama_udp import __all__ as __all__
