"""pyrama-socks5 must work with only core, net, tcp and udp installed (no TLS, no HTTP)."""

from __future__ import annotations

import subprocess
import sys


def test_import_pulls_in_no_tls_or_http_stack() -> None:
    code = (
        "import sys, pyrama_socks5\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "bad = roots & {'OpenSSL', 'cryptography', 'h11', 'h2', 'aioquic', 'pyrama_tls',"
        " 'pyrama_http', 'pyrama_http_core', 'pyrama_http_types'}\n"
        "ours = {r for r in roots if r.startswith('pyrama')}\n"
        "print(sorted(bad), sorted(ours))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "[] ['pyrama_core', 'pyrama_net', 'pyrama_socks5', 'pyrama_tcp', 'pyrama_udp']"
    )
