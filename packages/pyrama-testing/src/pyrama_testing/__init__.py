"""pyrama-testing: the workspace-only test kit (mock streams, free ports, peers)."""

from pyrama_testing._mock_stream import MockStream, mock_stream_pair
from pyrama_testing._peers import in_ci, require_module, require_peer, unavailable
from pyrama_testing._ports import free_port, silent_port
from pyrama_testing._splice import SpliceCounter, count_splices, needs_splice

__all__ = [
    "MockStream",
    "SpliceCounter",
    "count_splices",
    "free_port",
    "in_ci",
    "mock_stream_pair",
    "needs_splice",
    "require_module",
    "require_peer",
    "silent_port",
    "unavailable",
]

__version__ = "0.1.0"
