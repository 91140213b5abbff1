"""Router: the segment tree, methods, 404/405, HEAD, nesting, nested services, fallbacks."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http.matcher import PathMatcher
from pyrama_http.web import OriginalUri, Path, PathParams, RouteError, Router
from pyrama_http_types import Request, Response, Uri


async def call(svc: Any, method: str, target: str, **kw: Any) -> Response:
    return await svc.serve(Request(method, target, **kw))  # type: ignore[no-any-return]


async def body(resp: Response) -> bytes:
    return await resp.body.collect()


async def test_static_param_and_wildcard_routes() -> None:
    r = Router()

    @r.get("/")
    async def root() -> str:
        return "root"

    @r.get("/users/me")
    async def me() -> str:
        return "me"

    @r.get("/users/{id}")
    async def user(id: Path[int]) -> str:
        return f"user {id}"

    @r.get("/users/{id}/posts/{post}")
    async def post(id: Path[int], post: Path[str]) -> str:
        return f"{id}:{post}"

    @r.get("/files/{*rest}")
    async def files(rest: Path[str]) -> str:
        return f"files [{rest}]"

    assert await body(await call(r, "GET", "/")) == b"root"
    assert await body(await call(r, "GET", "/users/me")) == b"me"  # static beats {id}
    assert await body(await call(r, "GET", "/users/42")) == b"user 42"
    assert await body(await call(r, "GET", "/users/7/posts/hello%20world")) == b"7:hello world"
    assert await body(await call(r, "GET", "/files/a/b/c.txt")) == b"files [a/b/c.txt]"
    assert await body(await call(r, "GET", "/files/")) == b"files []"
    assert (await call(r, "GET", "/files")).status == 404
    assert await body(await call(r, "GET", "/files/x%2Fy")) == b"files [x/y]"
    # an empty segment is not a parameter; a trailing slash is another path
    assert (await call(r, "GET", "/users/")).status == 404
    assert (await call(r, "GET", "/users/me/")).status == 404
    assert (await call(r, "GET", "/nothing")).status == 404
    # a parameter that does not convert
    bad = await call(r, "GET", "/users/abc")
    assert bad.status == 400
    assert b"id" in await body(bad)


async def test_backtracking_static_then_param() -> None:
    r = Router()
    r.get("/a/b/c", lambda: "static")
    r.get("/a/{x}/d", lambda x: f"param {x}")
    # /a/b/d: the static branch "b" dead-ends at "d", the parameter branch matches
    assert await body(await call(r, "GET", "/a/b/d")) == b"param b"
    assert await body(await call(r, "GET", "/a/b/c")) == b"static"


async def test_absolute_form_uses_the_path() -> None:
    r = Router().get("/x", lambda: "x")
    assert await body(await call(r, "GET", "http://example.com/x?q=1")) == b"x"


async def test_methods_405_allow_and_head() -> None:
    r = Router()

    async def read() -> str:
        return "read"

    async def write() -> str:
        return "write"

    r.get("/item", read).post("/item", write).route(["PUT", "PATCH"], "/item", write)
    r.delete("/only-delete", write)
    r.route("QUERY, options", "/q", read)
    assert await body(await call(r, "POST", "/item")) == b"write"
    assert await body(await call(r, "PATCH", "/item")) == b"write"
    resp = await call(r, "DELETE", "/item")
    assert resp.status == 405
    assert resp.headers.get("allow") == "GET, POST, PUT, PATCH, HEAD"
    head = await call(r, "HEAD", "/item")  # served by GET
    assert head.status == 200
    gone = await call(r, "HEAD", "/only-delete")
    assert gone.status == 405
    assert gone.headers.get("allow") == "DELETE"
    assert await body(await call(r, "QUERY", "/q")) == b"read"
    assert await body(await call(r, "OPTIONS", "/q")) == b"read"

    own_head = Router().get("/", read).head("/", lambda: Response(204))
    assert (await call(own_head, "HEAD", "/")).status == 204


async def test_every_method_helper() -> None:
    r = Router()
    for name in ("get", "post", "put", "delete", "patch", "head", "options", "query", "connect",
                 "trace"):  # fmt: skip
        getattr(r, name)(f"/{name}", lambda n=name: n)
    for name in ("post", "put", "delete", "patch", "options", "query", "connect", "trace"):
        assert await body(await call(r, name.upper(), f"/{name}")) == name.encode()
    assert (await call(r, "GET", "/get")).status == 200
    assert (await call(r, "HEAD", "/head")).status == 200


async def test_conflicts_are_refused_at_build_time() -> None:
    r = Router().get("/u/{id}", lambda id: id)
    with pytest.raises(RouteError, match="conflicts"):
        r.get("/u/{name}/x", lambda name: name)
    with pytest.raises(RouteError, match="twice"):
        r.get("/u/{id}", lambda id: id)
    with pytest.raises(RouteError, match="whole segment"):
        Router().get("/f/{name}.txt", lambda name: name)
    with pytest.raises(RouteError, match="last segment"):
        Router().get("/f/{*rest}/x", lambda rest: rest)
    with pytest.raises(RouteError, match="start with"):
        Router().get("nope", lambda: "")
    with pytest.raises(RouteError, match="appears twice"):
        Router().get("/{a}/{a}", lambda a: a)

    async def handler(t: Thing) -> str:
        return ""

    with pytest.raises(RouteError, match="cannot extract parameter 't' of type Thing"):
        Router().get("/", handler)

    async def unresolvable(t: Unknown) -> str:  # type: ignore[name-defined]  # noqa: F821
        return ""

    with pytest.raises(RouteError, match="cannot resolve the annotations"):
        Router().get("/", unresolvable)


class Thing:
    """Not an extractor."""


async def test_nest_routers_and_state() -> None:
    api = Router(state={"greeting": "hi"})

    @api.get("/users/{id}")
    async def user(id: Path[int], params: PathParams) -> dict[str, Any]:
        return {"id": id, "params": dict(params)}

    @api.get("/")
    async def index() -> str:
        return "api index"

    root = Router().nest("/api", api).nest("/v/{ver}", api)
    resp = await call(root, "GET", "/api/users/3")
    assert await body(resp) == b'{"id":3,"params":{"id":"3"}}'
    assert await body(await call(root, "GET", "/api")) == b"api index"
    resp = await call(root, "GET", "/v/2/users/5")
    assert await body(resp) == b'{"id":5,"params":{"ver":"2","id":"5"}}'


async def test_nest_service_strips_the_prefix() -> None:
    seen: list[tuple[str, str | None]] = []

    class Inner:
        async def serve(self, request: Request) -> Response:
            orig = request.extensions.get(OriginalUri)
            seen.append((str(request.uri), None if orig is None else str(orig.uri)))
            return Response.text("inner")

    r = Router().nest_service("/static", Inner()).get("/", lambda: "root")
    for target in ("/static", "/static/", "/static/a/b.css?v=1", "/static/sp%20ace"):
        assert await body(await call(r, "POST", target)) == b"inner"
    assert seen == [
        ("/", "/static"),
        ("/", "/static/"),
        ("/a/b.css?v=1", "/static/a/b.css?v=1"),
        ("/sp%20ace", "/static/sp%20ace"),
    ]
    assert (await call(r, "GET", "/staticx")).status == 404
    with pytest.raises(RouteError):
        Router().nest_service("/", Inner())


async def test_fallback_and_service_routes() -> None:
    class Svc:
        async def serve(self, request: Request) -> Response:
            return Response.text(f"svc {request.method}")

    async def fb(uri: Uri) -> tuple[int, str]:
        return 404, f"no route for {uri.path}"

    r2 = Router(fallback=fb).route("GET,POST", "/svc", Svc())
    assert await body(await call(r2, "POST", "/svc")) == b"svc POST"
    resp = await call(r2, "GET", "/missing")
    assert resp.status == 404
    assert await body(resp) == b"no route for /missing"


async def test_lookup_reports_params() -> None:
    r = Router().get("/a/{x}/{*rest}", lambda x, rest: "")
    found = r.lookup("/a/1/2/3")
    assert found is not None
    assert found[1] == {"x": "1", "rest": "2/3"}
    assert r.lookup("/b") is None


# -- property: the tree agrees with a brute-force reference ---------------------------------

_SEG = st.sampled_from(["a", "b", "", "{p}", "{q}"])


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for seg in pattern[1:].split("/"):
        if seg.startswith("{*"):
            out.append("(.*)")
        elif seg.startswith("{"):
            out.append("([^/]+)")
        else:
            out.append(re.escape(seg))
    return re.compile("^/" + "/".join(out) + "$")


def _rank(pattern: str) -> tuple[int, ...]:
    return tuple(
        2 if s.startswith("{*") else 1 if s.startswith("{") else 0 for s in pattern[1:].split("/")
    )


@given(
    st.lists(
        st.tuples(st.lists(_SEG, min_size=1, max_size=4), st.booleans()), min_size=1, max_size=12
    ),
    st.lists(st.lists(st.sampled_from(["a", "b", "", "x", "a%20b"]), min_size=1, max_size=5)),
)
def test_lookup_matches_the_reference(
    routes: list[tuple[list[str], bool]], paths: list[list[str]]
) -> None:
    r = Router()
    added: list[str] = []
    for segs, wild in routes:
        names = iter(f"n{i}" for i in range(10))
        parts = [f"{{{next(names)}}}" if s.startswith("{") else s for s in segs]
        if wild:
            parts.append("{*rest}")
        pattern = "/" + "/".join(parts)
        try:
            r.get(pattern, lambda: "")
        except RouteError:
            continue  # a conflicting parameter name or a duplicate: refused at build time
        added.append(pattern)
    for segs in paths:
        path = "/" + "/".join(segs)
        matching = [p for p in added if _pattern_regex(p).match(path)]
        found = r.lookup(path)
        if not matching:
            assert found is None, (path, found[0].pattern if found else None)
            continue
        assert found is not None, (path, matching)
        want = min(matching, key=_rank)
        assert found[0].pattern == want
        m = _pattern_regex(want).match(path)
        assert m is not None
        assert list(found[1].values()) == [unquote(g) for g in m.groups()]
        # PathMatcher agrees on the same pattern
        assert PathMatcher(want).captures(path) == found[1]
