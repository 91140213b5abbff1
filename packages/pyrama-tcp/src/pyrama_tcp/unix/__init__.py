"""Unix domain sockets: listener, connector and stream, on the same machinery as TCP."""

from pyrama_tcp.unix._connector import UnixConnector
from pyrama_tcp.unix._listener import DEFAULT_UNIX_MODE, UnixListener
from pyrama_tcp.unix._stream import PeerCredentials, UnixPath, UnixStream

__all__ = [
    "DEFAULT_UNIX_MODE",
    "PeerCredentials",
    "UnixConnector",
    "UnixListener",
    "UnixPath",
    "UnixStream",
]
