"""Type-checker view of ``pyrama.core``: at run time it is the module ``pyrama_core`` itself."""

from pyrama_core import *  # noqa: F403
from pyrama_core import __all__ as __all__
