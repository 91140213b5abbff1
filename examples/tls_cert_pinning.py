"""Certificate (public-key) pinning: a TLS client that accepts one server key and no other.

A pin is the SHA-256 of the server certificate's SubjectPublicKeyInfo (``sha256//BASE64``,
the form ``curl --pinnedpubkey`` takes). :class:`~pyrama_tls.TlsConnectorData` takes
``pins=[...]``; after the handshake the leaf's key must match one of them, or the connection
is closed with :class:`~pyrama_tls.errors.PinMismatchError`, even when the chain is
otherwise trusted. Pins survive certificate renewals that keep the key, and stop a
mis-issued certificate for the same name.

Run the demo (everything on 127.0.0.1; PORT or the first argument picks the server's port,
default 62048, 0 = any)::

    python examples/tls_cert_pinning.py

It starts a TLS server with a CA-issued certificate for localhost, then connects three
times, verifying against that CA each time, and prints::

    server listening address=127.0.0.1:62048 spki_sha256=sha256//AAA...
    pinned to the server's key: accepted (TLSv1.3, CN=localhost, sha256//AAA...)
    pinned to another key: refused: server key sha256//AAA... matches none of the 1 ...
    same name, same CA, new key: refused: server key sha256//BBB... matches none of ...

and exits with 0. Pin a server of your own instead (pins only, like ``curl -k
--pinnedpubkey``: the chain is not checked, the key must match)::

    python examples/tls_cert_pinning.py 127.0.0.1:8443 sha256//AAA...     # or TARGET=, PIN=

which prints ``accepted (...)`` and exits 0, or ``refused: ...`` and exits 1. Ctrl-C stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from pyrama_core import Service, service_fn
from pyrama_core.errors import PyramaError
from pyrama_core.telemetry import setup_logging
from pyrama_net import Authority, Stream
from pyrama_tcp import TcpConnector, TcpListener
from pyrama_tls import (
    CertificateAuthority,
    CertifiedKey,
    NegotiatedTls,
    PinLike,
    TlsAcceptorData,
    TlsAcceptorLayer,
    TlsConnectorData,
    TlsConnectorLayer,
    spki_sha256_of,
)
from pyrama_tls.errors import PinMismatchError, TlsHandshakeError

DEFAULT_PORT = 62048


def pin_text(raw: bytes) -> str:
    """32 digest bytes as ``sha256//BASE64``."""
    import base64

    return "sha256//" + base64.b64encode(raw).decode("ascii")


async def attempt(target: Authority, data: TlsConnectorData) -> str:
    """Connect to *target* with *data*; describe the outcome in one line."""
    connector = TlsConnectorLayer(data).layer(TcpConnector(connect_timeout=5.0))
    try:
        tls = (await connector.serve(target)).conn
    except PinMismatchError as exc:
        return f"refused: {exc}"
    except (OSError, PyramaError) as exc:
        return f"failed: {exc}"
    negotiated = tls.extensions.get(NegotiatedTls)
    await tls.close()
    assert negotiated is not None
    assert negotiated.peer_certificate is not None
    leaf = negotiated.peer_certificate
    return (
        f"accepted ({negotiated.version}, {leaf.subject.rfc4514_string()}, "
        f"{pin_text(spki_sha256_of(leaf))})"
    )


def tls_server(key: CertifiedKey) -> Service[Stream, None]:
    """A TLS server that says hello and closes; failed handshakes end quietly."""

    async def hello(stream: Stream) -> None:
        stream.write(b"hello\n")
        await stream.drain()

    inner = TlsAcceptorLayer(TlsAcceptorData(certified_key=key)).layer(service_fn(hello))

    async def quiet(stream: Stream) -> None:
        with contextlib.suppress(TlsHandshakeError):
            await inner.serve(stream)

    return service_fn(quiet)


async def demo(port: int) -> int:
    """Serve a CA-issued certificate; connect with the right pin, a wrong one, a new key."""
    ca = CertificateAuthority.generate("pinning demo CA")
    key = ca.issue_leaf(["localhost", "127.0.0.1"])
    rotated = ca.issue_leaf(["localhost", "127.0.0.1"])  # same name and CA, another key
    listener = await TcpListener.bind(("127.0.0.1", port))
    servers = [tls_server(key), tls_server(rotated)]
    current = [servers[0]]

    async def switchable(stream: Stream) -> None:
        await current[0].serve(stream)

    serving = asyncio.create_task(listener.serve(service_fn(switchable)))
    pin = key.spki_sha256()
    print(f"server listening address={listener.local_addr} spki_sha256={pin}", flush=True)
    target = Authority.parse(str(listener.local_addr))

    def pinned(pin: PinLike) -> TlsConnectorData:
        # the chain is verified against our CA as usual; the pin is checked on top
        return TlsConnectorData(ca_certificates=[ca.cert], server_name="localhost", pins=[pin])

    try:
        right = await attempt(target, pinned(pin))
        print(f"pinned to the server's key: {right}", flush=True)
        other = CertificateAuthority.generate("unrelated").spki_sha256()
        wrong = await attempt(target, pinned(other))
        print(f"pinned to another key: {wrong}", flush=True)
        current[0] = servers[1]
        new_key = await attempt(target, pinned(pin))
        print(f"same name, same CA, new key: {new_key}", flush=True)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await listener.close()
    ok = right.startswith("accepted") and wrong.startswith("refused")
    return 0 if ok and new_key.startswith("refused") else 1


async def pin_one(target: Authority, pin: str) -> int:
    """Connect to *target* trusting exactly the key *pin*; 0 if accepted, 1 if not."""
    try:
        data = TlsConnectorData(insecure=True, pins=[pin])
    except PyramaError as exc:
        print(f"bad pin {pin!r}: {exc}", flush=True)
        return 2
    outcome = await attempt(target, data)
    print(outcome, flush=True)
    return 0 if outcome.startswith("accepted") else 1


if __name__ == "__main__":
    setup_logging("console", "error")  # no warning line for insecure=True with pins
    args = sys.argv[1:]
    target_text = args[0] if args and ":" in args[0] else os.environ.get("TARGET")
    try:
        if target_text:
            pin = args[1] if len(args) > 1 else os.environ.get("PIN", "")
            code = asyncio.run(pin_one(Authority.parse(target_text), pin))
        else:
            port = int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT))
            code = asyncio.run(demo(port))
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)
