"""``pyrama serve echo --mode http``: answer every request with JSON describing it.

The answer holds what the server saw, exactly: the method, the request target, the version,
the header fields in the order received with their original case, the body (text when it is
UTF-8, else base64), the peer address and the JA4H fingerprint; over HTTP/2 the Akamai
fingerprint of the client's first frames; over TLS the handshake's facts and the ClientHello
fingerprints (JA3, JA4, PeetPrint). Handy to see what a client (or a proxy in between)
really sends.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pyrama.cli._http import peer_text

if TYPE_CHECKING:
    from pyrama_http_types import Request, Response
    from pyrama_tls import NegotiatedTls

__all__ = ["HttpEchoService", "describe_request", "describe_tls"]


def _text(raw: bytes) -> str:
    # header bytes are latin-1 on the wire (obs-text included): a lossless mapping to text
    return raw.decode("latin-1")


def _body_fields(data: bytes) -> dict[str, Any]:
    try:
        return {"body": data.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(data).decode("ascii"), "body_encoding": "base64"}


def describe_tls(negotiated: NegotiatedTls) -> dict[str, Any]:
    """The TLS facts of a connection: version, cipher, ALPN, SNI and ClientHello fingerprints.

    The fingerprints (``ja3`` with ``ja3_string``, ``ja4`` with ``ja4_r``, ``peetprint`` with
    ``peetprint_string``) are there when the acceptor peeked the ClientHello (it does by
    default).
    """
    facts: dict[str, Any] = {
        "version": negotiated.version,
        "cipher": negotiated.cipher,
        "alpn": negotiated.alpn,
        "sni": negotiated.server_name,
        "group": negotiated.group,
        "session_reused": negotiated.session_reused,
    }
    client = negotiated.peer_certificate
    if client is not None:
        facts["client_certificate"] = client.subject.rfc4514_string()
    hello = negotiated.client_hello
    if hello is not None:
        from pyrama_tls import ja3, ja4, peetprint

        j3 = ja3(hello)
        j4 = ja4(hello)
        pp = peetprint(hello)
        facts.update(
            ja3=j3.hash,
            ja3_string=j3.string,
            ja4=j4.ja4,
            ja4_r=j4.ja4_r,
            peetprint=pp.hash,
            peetprint_string=pp.string,
        )
    return facts


async def describe_request(request: Request) -> dict[str, Any]:
    """Read *request*'s body and describe the whole request as a JSON-ready mapping."""
    from pyrama_http_core import H2ClientFingerprintData, H2PseudoHeaderOrder
    from pyrama_http_types import Ja4H, Version
    from pyrama_tls import NegotiatedTls

    data = await request.body.read_all()
    uri = request.uri
    out: dict[str, Any] = {
        "method": str(request.method),
        "uri": str(uri),
        "path": uri.path,
        "query": uri.query,
        "version": str(request.version),
        "headers": [[_text(n), _text(v)] for n, v in request.headers.raw_items()],
        **_body_fields(data),
        "peer": peer_text(request),
    }
    ext = request.extensions
    ja4h = Ja4H.compute(request)
    out["ja4h"] = ja4h.ja4h
    out["ja4h_r"] = ja4h.ja4h_r
    if request.version is Version.HTTP_2:
        h2: dict[str, Any] = {}
        order = ext.get(H2PseudoHeaderOrder)
        if order is not None:
            h2["pseudo_header_order"] = list(order.order)
        fp = ext.get(H2ClientFingerprintData)
        if fp is not None:
            akamai = fp.akamai()
            h2["akamai"] = str(akamai)
            h2["akamai_hash"] = akamai.md5
        out["h2"] = h2
    negotiated = ext.get(NegotiatedTls)
    if negotiated is not None:
        out["tls"] = describe_tls(negotiated)
    return out


class HttpEchoService:
    """``Service[Request, Response]``: ``200`` with the JSON of :func:`describe_request`.

    A ``HEAD`` request gets the same head without the body (the driver drops it).
    """

    __slots__ = ()

    async def serve(self, request: Request, /) -> Response:
        """Describe *request* in a JSON response."""
        from pyrama_http_types import Response

        return Response.json(await describe_request(request))

    def __repr__(self) -> str:
        return "HttpEchoService()"
