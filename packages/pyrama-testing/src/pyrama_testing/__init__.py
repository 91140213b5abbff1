"""pyrama-testing: the workspace-only test kit (mock streams, free ports, peers)."""

from pyrama_testing._mock_stream import MockStream, mock_stream_pair
from pyrama_testing._peers import in_ci, require_module, require_peer, unavailable
from pyrama_testing._ports import free_port

__all__ = [
    "MockStream",
    "free_port",
    "in_ci",
    "mock_stream_pair",
    "require_module",
    "require_peer",
    "unavailable",
]

__version__ = "0.1.0"
