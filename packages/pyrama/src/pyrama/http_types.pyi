"""Type-checker view of ``pyrama.http_types``: at run time it is ``pyrama_http_types``."""

from pyrama_http_types import *  # noqa: F403
from pyrama_http_types import __all__ as __all__
