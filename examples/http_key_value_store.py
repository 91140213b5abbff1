r"""A key-value store over HTTP (rama's ``http_key_value_store``), in memory.

Routes (a :class:`~pyrama_http.web.Router`, admin routes nested under ``/admin``)::

    GET    /keys             the keys, as a JSON array
    POST   /keys/exists      JSON array of keys in, {"key": true|false, ...} out
    GET    /item/{key}       the value (application/octet-stream), 404 if absent
    HEAD   /item/{key}       200 or 404, no body
    POST   /item/{key}       store the request body as the value (201)
    POST   /items            store a JSON object {"key": "value", ...} (201)
    DELETE /admin/item/{key} remove one key (204, 404 if absent)    } Authorization:
    DELETE /admin/keys       remove every key (204)                  } Bearer <token>

The admin routes want ``Authorization: Bearer <token>`` (``ADMIN_TOKEN``, default
``secret-token``); anything else is answered ``401`` with ``WWW-Authenticate: Bearer``.

Run it::

    python examples/http_key_value_store.py      # listens on 127.0.0.1:62012 (PORT=0: any)

Then::

    curl -X POST --data-binary 'world' http://127.0.0.1:62012/item/hello
    curl http://127.0.0.1:62012/item/hello                         # world
    curl -X POST -H 'content-type: application/json' -d '{"a":"1","b":"2"}' \
        http://127.0.0.1:62012/items
    curl http://127.0.0.1:62012/keys                               # ["hello","a","b"]
    curl -X DELETE -H 'authorization: Bearer secret-token' http://127.0.0.1:62012/admin/keys
"""

from __future__ import annotations

import asyncio
import hmac
import os
import sys

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.web import Json, Path, Router, State, TypedHeader
from pyrama_http_types import Authorization, Response, StatusCode
from pyrama_net import Bearer, SocketAddress

DEFAULT_PORT = 62012

log = get_logger("http_key_value_store")


class Store:
    """The state every handler shares: the items and the admin token."""

    def __init__(self, admin_token: str) -> None:
        self.items: dict[str, bytes] = {}
        self.admin_token = admin_token.encode()

    def is_admin(self, auth: Authorization | None) -> bool:
        """Whether *auth* carries the admin bearer token (compared in constant time)."""
        if auth is None or not isinstance(auth.credentials, Bearer):
            return False
        return hmac.compare_digest(auth.credentials.token.encode(), self.admin_token)


UNAUTHORIZED = (401, {"WWW-Authenticate": 'Bearer realm="kv"'}, "admin token required\n")


async def list_keys(store: State[Store]) -> list[str]:
    """All keys, in insertion order."""
    return list(store.items)


async def keys_exist(keys: Json[list[str]], store: State[Store]) -> dict[str, bool]:
    """For each key asked about, whether it is stored."""
    return {k: k in store.items for k in keys}


async def get_item(key: Path[str], store: State[Store]) -> Response:
    """The value (HEAD: the same, without the body), or 404."""
    value = store.items.get(key)
    if value is None:
        return Response.text("no such key\n", StatusCode.NOT_FOUND)
    return Response.binary(value)


async def put_item(key: Path[str], value: bytes, store: State[Store]) -> tuple[int, str]:
    """Store the request body under *key*."""
    store.items[key] = value
    return 201, "stored\n"


async def put_items(items: Json[dict[str, str]], store: State[Store]) -> tuple[int, dict[str, int]]:
    """Store every pair of a JSON object."""
    for k, v in items.items():
        store.items[k] = v.encode()
    return 201, {"stored": len(items)}


async def delete_item(
    key: Path[str], store: State[Store], auth: TypedHeader[Authorization | None]
) -> object:
    """Remove one key (admin only)."""
    if not store.is_admin(auth):
        return UNAUTHORIZED
    if store.items.pop(key, None) is None:
        return 404, "no such key\n"
    return StatusCode.NO_CONTENT


async def delete_all(store: State[Store], auth: TypedHeader[Authorization | None]) -> object:
    """Remove every key (admin only)."""
    if not store.is_admin(auth):
        return UNAUTHORIZED
    store.items.clear()
    return StatusCode.NO_CONTENT


def app(admin_token: str) -> Router:
    """The routes, sharing one :class:`Store`."""
    store = Store(admin_token)
    admin = Router(state=store).delete("/item/{key}", delete_item).delete("/keys", delete_all)
    return (
        Router(state=store, body_limit=1024 * 1024)
        .get("/keys", list_keys)
        .post("/keys/exists", keys_exist)
        .get("/item/{key}", get_item)  # HEAD is served by the GET handler
        .post("/item/{key}", put_item)
        .post("/items", put_items)
        .nest("/admin", admin)
    )


async def main(port: int) -> None:
    """Serve the store on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    service = app(os.environ.get("ADMIN_TOKEN", "secret-token"))
    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        service,
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
