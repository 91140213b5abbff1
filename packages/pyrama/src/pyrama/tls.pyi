"""Type-checker view of ``pyrama.tls``: at run time it is the module ``pyrama_tls`` itself."""

from pyrama_tls import *  # noqa: F403
from pyrama_tls import __all__ as __all__
