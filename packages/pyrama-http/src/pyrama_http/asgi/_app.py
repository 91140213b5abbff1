"""asgi_app: expose a pyrama ``Service[Request, Response]`` as an ASGI 3 application."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from pyrama_core import Extensions, Service
from pyrama_core.telemetry import get_logger
from pyrama_http.asgi._errors import AsgiDisconnectError, AsgiProtocolError
from pyrama_http.asgi._types import AsgiApp, Receive, Scope, Send
from pyrama_http_types import Body, HeaderMap, Request, Response, Uri, Version
from pyrama_net import SocketInfo

__all__ = ["asgi_app"]

_log = get_logger(__name__)

_VERSIONS: Final = {
    "1.0": Version.HTTP_10,
    "1.1": Version.HTTP_11,
    "2": Version.HTTP_2,
    "2.0": Version.HTTP_2,
    "3": Version.HTTP_3,
}
_NO_BODY_STATUS: Final = frozenset({204, 304})


async def _request_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            raise AsgiDisconnectError("the client disconnected before the request body ended")
        if kind != "http.request":
            raise AsgiProtocolError(f"unexpected ASGI message {kind!r} for a request body")
        data = message.get("body", b"")
        if data:
            yield bytes(data)
        if not message.get("more_body", False):
            return


def _endpoint(value: object) -> tuple[str, int] | None:
    """``(host, port)`` of an ASGI ``client``/``server`` entry (``None`` without a port)."""
    if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[1], int):
        return str(value[0]), value[1]
    return None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def build_request(scope: Scope, receive: Receive) -> Request:
    """The pyrama :class:`~pyrama_http_types.Request` for an ASGI ``http`` *scope*."""
    raw_path = scope.get("raw_path")
    if not raw_path:
        from urllib.parse import quote

        raw_path = quote(scope.get("path", "/"), safe="/:@!$&'()*+,;=-._~").encode("ascii")
    target = bytes(raw_path)
    query = scope.get("query_string", b"")
    if query:
        target += b"?" + bytes(query)
    headers = HeaderMap.from_raw((bytes(n), bytes(v)) for n, v in scope.get("headers", ()))
    length = None
    cl = headers.get_all_raw("content-length")
    if len(cl) == 1 and cl[0].isdigit():
        length = int(cl[0])
    ext = Extensions()
    client, server = _endpoint(scope.get("client")), _endpoint(scope.get("server"))
    if client is not None:
        ext.insert(SocketInfo(local=server, peer=client, family=_family(client[0])))
    ext.insert(scope)  # the raw scope, for services that want more
    method = scope.get("method", "GET")
    has_body = length != 0 and (length is not None or b"transfer-encoding" in headers)
    body = Body.from_iter(_request_chunks(receive), size_hint=length) if has_body else Body.empty()
    return Request(
        method,
        Uri(target),
        version=_VERSIONS.get(str(scope.get("http_version", "1.1")), Version.HTTP_11),
        headers=headers,
        body=body,
        extensions=ext,
    )


async def _send_response(response: Response, send: Send, method: str) -> None:
    headers = [(n.lower(), v) for n, v in response.headers.raw_items()]
    status = int(response.status)
    body = response.body
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if method == "HEAD" or status in _NO_BODY_STATUS:
        await body.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    data = body.try_take_bytes()
    if data is not None:
        await send({"type": "http.response.body", "body": data, "more_body": False})
        return
    try:
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        if not _ended(body):
            await body.aclose()
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _ended(body: Body) -> bool:
    try:
        body.trailers  # noqa: B018 - raises until the body was read to its end
    except Exception:
        return False
    return True


async def _lifespan(
    receive: Receive,
    send: Send,
    on_startup: Callable[[], Awaitable[None]] | None,
    on_shutdown: Callable[[], Awaitable[None]] | None,
) -> None:
    while True:
        message = await receive()
        kind = message.get("type")
        hook = on_startup if kind == "lifespan.startup" else on_shutdown
        phase = "startup" if kind == "lifespan.startup" else "shutdown"
        try:
            if hook is not None:
                await hook()
        except Exception as exc:
            await send({"type": f"lifespan.{phase}.failed", "message": repr(exc)})
            if phase == "startup":
                return
        else:
            await send({"type": f"lifespan.{phase}.complete"})
        if phase == "shutdown":
            return


def asgi_app(
    service: Service[Request, Response],
    *,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> AsgiApp:
    """An ASGI 3 application serving ``http`` scopes with *service* (uvicorn, hypercorn...).

    Each request becomes a :class:`~pyrama_http_types.Request`: the target from ``raw_path``
    and ``query_string``, the header fields as the server gives them, the version from
    ``http_version``, a body streaming the ``http.request`` messages (a disconnect mid-body
    raises :class:`~pyrama_http.asgi.AsgiDisconnectError` from it), a
    :class:`~pyrama_net.SocketInfo` from ``client``/``server`` and the raw scope (a ``dict``)
    in the extensions. The response is streamed back chunk by chunk. A service that raises
    before answering gets ``500``; ``lifespan`` scopes run *on_startup* / *on_shutdown*.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await _lifespan(receive, send, on_startup, on_shutdown)
            return
        if kind != "http":
            raise AsgiProtocolError(f"a pyrama service serves http scopes, not {kind!r}")
        request = build_request(scope, receive)
        try:
            response = await service.serve(request)
        except Exception as exc:
            _log.error(
                "service failed under asgi; answering 500",
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await _send_response(response, send, str(request.method))

    app.__doc__ = f"ASGI application serving {service!r}."
    setattr(app, "service", service)  # noqa: B010 - a plain function has no typed attribute
    return app
