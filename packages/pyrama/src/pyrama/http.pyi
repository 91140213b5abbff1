"""Type-checker view of ``pyrama.http``: at run time it is the module ``pyrama_http`` itself."""

from pyrama_http import *  # noqa: F403
from pyrama_http import __all__ as __all__
