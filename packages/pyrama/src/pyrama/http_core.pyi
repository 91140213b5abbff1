"""Type-checker view of ``pyrama.http_core``: at run time it is the module ``pyrama_http_core``."""

from pyrama_http_core import *  # noqa: F403
from pyrama_http_core import __all__ as __all__
