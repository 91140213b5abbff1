r"""A :class:`~pyrama_http.web.Router`: path parameters, wildcards, methods, nesting.

Routes are compiled into a segment tree when added; a request walks it once. What the
handlers need comes in by annotation (``Path[...]``, ``Query[...]``, ``Json[...]``).

    GET    /                         an HTML index
    GET    /greet/{name}             "Hello, <name>!" (text)
    GET    /sum/{a}/{b}              {"sum": a+b} (Path[tuple[int, int]])
    GET    /files/{*path}            the wildcard: the rest of the path
    GET    /api/v1/users/{id}        nested router: a user as JSON (404 if unknown)
    POST   /api/v1/users             create a user from JSON (201 + Location)
    other methods on a known path    405 with Allow; unknown paths: 404

Run it::

    python examples/http_web_router.py      # listens on 127.0.0.1:62016 (PORT=0: any)

Then::

    curl http://127.0.0.1:62016/greet/pyrama
    curl http://127.0.0.1:62016/sum/2/40
    curl -d '{"name":"ada"}' -H 'content-type: application/json' \
        http://127.0.0.1:62016/api/v1/users
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import asdict, dataclass

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.web import Html, Json, JsonResponse, Path, Router, State
from pyrama_net import SocketAddress

DEFAULT_PORT = 62016

log = get_logger("http_web_router")


@dataclass
class NewUser:
    """The body of ``POST /api/v1/users``."""

    name: str
    admin: bool = False


@dataclass
class User:
    """A stored user."""

    id: int
    name: str
    admin: bool


class Users:
    """The users API's state."""

    def __init__(self) -> None:
        self.by_id: dict[int, User] = {}

    def add(self, new: NewUser) -> User:
        """Store a new user with the next id."""
        user = User(len(self.by_id) + 1, new.name, new.admin)
        self.by_id[user.id] = user
        return user


async def index() -> Html:
    """The index page."""
    return Html("<!doctype html><h1>pyrama router</h1><a href='/greet/you'>greet</a>")


async def greet(name: Path[str]) -> str:
    """Greet *name*."""
    return f"Hello, {name}!"


async def add(ab: Path[tuple[int, int]]) -> dict[str, int]:
    """Add the two path numbers."""
    return {"sum": ab[0] + ab[1]}


async def files(path: Path[str]) -> str:
    """Show what the wildcard captured."""
    return f"file: {path or '(root)'}"


async def get_user(id: Path[int], users: State[Users]) -> User | tuple[int, str]:
    """A user as JSON, or 404."""
    user = users.by_id.get(id)
    return (404, f"no user {id}\n") if user is None else user


async def create_user(new: Json[NewUser], users: State[Users]) -> JsonResponse:
    """Create a user; ``201`` with its location."""
    user = users.add(new)
    return JsonResponse(asdict(user), 201, headers={"Location": f"/api/v1/users/{user.id}"})


def app() -> Router:
    """The routes; the users API is its own router, nested under ``/api/v1``."""
    api = Router(state=Users()).get("/users/{id}", get_user).post("/users", create_user)
    return (
        Router()
        .get("/", index)
        .get("/greet/{name}", greet)
        .get("/sum/{a}/{b}", add)
        .get("/files/{*path}", files)
        .nest("/api/v1", api)
    )


async def main(port: int) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    await HttpServer.auto().listen(
        ("127.0.0.1", port), app(), shutdown=Shutdown.with_signals(deadline=5.0), on_listening=bound
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
