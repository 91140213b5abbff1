"""Type-checker view of ``pyrama.proxy``: at run time it is the module ``pyrama_proxy`` itself."""

from pyrama_proxy import *  # noqa: F403
from pyrama_proxy import __all__ as __all__
