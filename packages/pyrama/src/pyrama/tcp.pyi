"""Type-checker view of ``pyrama.tcp``: at run time it is the module ``pyrama_tcp`` itself."""

from pyrama_tcp import *  # noqa: F403
from pyrama_tcp import __all__ as __all__
