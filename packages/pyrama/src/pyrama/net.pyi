"""Type-checker view of ``pyrama.net``: at run time it is the module ``pyrama_net`` itself."""

from pyrama_net import *  # noqa: F403
from pyrama_net import __all__ as __all__
