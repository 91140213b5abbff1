"""Type-checker view of ``pyrama.haproxy``: at run time it is ``pyrama_haproxy`` itself."""

from pyrama_haproxy import *  # noqa: F403
from pyrama_haproxy import __all__ as __all__
