"""Type-checker view of ``pyrama.socks5``: at run time it is the module ``pyrama_socks5`` itself."""

from pyrama_socks5 import *  # noqa: F403
from pyrama_socks5 import __all__ as __all__
