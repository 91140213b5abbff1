"""The ``pyrama`` command-line tool.

Run ``pyrama --help`` (or ``python -m pyrama --help``) for the commands:

* ``pyrama --version``: every installed pyrama distribution (extensions included);
* ``pyrama extensions``: the installed community extensions;
* ``pyrama serve echo|discard|forward``: ready-made servers for testing and proxying;
* ``pyrama serve stunnel exit|entry``: the two ends of a TLS tunnel;
* ``pyrama probe tls HOST[:PORT]``: a TLS handshake and the server's certificate chain.

Each command lives in its own private module in this package; :func:`main` parses the
command line and dispatches.
"""

from pyrama.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
