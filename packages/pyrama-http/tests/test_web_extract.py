"""Extractors: Path, Query, Json, Form, TypedHeader, State, Extension, bodies, from_request."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions
from pyrama_http.web import (
    Extension,
    ExtractError,
    Form,
    Json,
    Path,
    Query,
    RouteError,
    Router,
    State,
    TypedHeader,
    compile_handler,
)
from pyrama_http_types import (
    Authorization,
    ContentType,
    HeaderMap,
    Method,
    Request,
    Response,
    Uri,
    UserAgent,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Item:
    name: str
    price: float
    tags: list[str] = field(default_factory=list)
    color: Color | None = None


class Patch(TypedDict, total=False):
    name: str
    qty: int


@dataclass
class Paging:
    page: int = 1
    per: int = 20
    sort: Literal["asc", "desc"] = "asc"
    ids: list[int] = field(default_factory=list)
    debug: bool = False


@dataclass
class UserPost:
    user: int
    post: str


@dataclass
class Login:
    user: str
    remember: bool = False


def req(
    method: str = "GET",
    target: str = "/",
    *,
    body: bytes = b"",
    ctype: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Request:
    hs = list(headers or [])
    if ctype is not None:
        hs.append(("Content-Type", ctype))
    return Request(method, target, headers=hs, body=body)


async def text(resp: Response) -> str:
    return (await resp.body.collect()).decode()


async def test_path_shapes() -> None:
    r = Router()

    async def as_tuple(t: Path[tuple[int, str]]) -> str:
        return repr(t)

    async def as_model(p: Path[UserPost]) -> str:
        return repr(p)

    async def as_dict(p: Path[dict[str, str]]) -> dict[str, str]:
        return p

    async def single(anything: Path[int]) -> str:  # the only parameter, another name
        return str(anything + 1)

    r.get("/t/{user}/{post}", as_tuple).get("/m/{user}/{post}", as_model)
    r.get("/d/{a}/{b}", as_dict).get("/s/{n}", single)
    assert await text(await r.serve(req("GET", "/t/1/x"))) == "(1, 'x')"
    assert await text(await r.serve(req("GET", "/m/2/y"))) == "UserPost(user=2, post='y')"
    assert await text(await r.serve(req("GET", "/d/p/q"))) == '{"a":"p","b":"q"}'
    assert await text(await r.serve(req("GET", "/s/41"))) == "42"
    bad = await r.serve(req("GET", "/m/x/y"))
    assert bad.status == 400
    assert "user" in await text(bad)
    with pytest.raises(RouteError, match="name it like one of them"):
        Router().get("/{a}/{b}", single)


async def test_query() -> None:
    async def handler(q: Query[Paging]) -> str:
        return repr(q)

    async def as_dict(q: Query[dict[str, str]]) -> dict[str, str]:
        return q

    async def as_lists(q: Query[dict[str, list[str]]]) -> dict[str, list[str]]:
        return q

    r = Router().get("/", handler).get("/d", as_dict).get("/l", as_lists)
    assert await text(await r.serve(req())) == repr(Paging())
    got = await text(await r.serve(req("GET", "/?page=3&sort=desc&ids=1&ids=2&debug=yes")))
    assert got == repr(Paging(page=3, sort="desc", ids=[1, 2], debug=True))
    for bad_q, field_name in (("page=x", "page"), ("sort=up", "sort"), ("ids=1&ids=z", "ids")):
        resp = await r.serve(req("GET", f"/?{bad_q}"))
        assert resp.status == 400
        assert field_name in await text(resp)
    assert await text(await r.serve(req("GET", "/d?a=1&b=%20x&a=2"))) == '{"a":"2","b":" x"}'
    assert await text(await r.serve(req("GET", "/l?a=1&a=2"))) == '{"a":["1","2"]}'


async def test_query_field_limit() -> None:
    async def as_dict(q: Query[dict[str, str]]) -> dict[str, str]:
        return q

    r = Router().get("/", as_dict)
    many = "&".join(f"k{i}=v" for i in range(1001))
    resp = await r.serve(req("GET", f"/?{many}"))
    assert resp.status == 400
    assert (await r.serve(req("GET", "/?" + "&".join(f"k{i}=v" for i in range(999))))).status == 200


async def test_json_validation_names_the_field() -> None:
    async def create(item: Json[Item]) -> tuple[int, dict[str, Any]]:
        return 201, {"name": item.name, "price": item.price, "tags": item.tags,
                     "color": item.color}  # fmt: skip

    r = Router().post("/items", create)
    ok = await r.serve(
        req(
            "POST",
            "/items",
            body=b'{"name":"a","price":2,"color":"red","x":1}',
            ctype="application/json",
        )
    )
    assert ok.status == 201
    assert json.loads(await text(ok)) == {"name": "a", "price": 2.0, "tags": [], "color": "red"}
    cases = [
        (b'{"price": 1}', "name", "missing field"),
        (b'{"name": "a", "price": "1"}', "price", "expected a number"),
        (b'{"name": "a", "price": 1, "tags": ["x", 2]}', "tags[1]", "expected a string"),
        (b'{"name": "a", "price": 1, "color": "green"}', "color", "expected"),
        (b'{"name": true, "price": 1}', "name", "expected a string"),
        (b"[1]", None, "expected an object"),
    ]
    for raw, fname, msg in cases:
        resp = await r.serve(req("POST", "/items", body=raw, ctype="application/json"))
        assert resp.status == 422, raw
        assert resp.headers.get("content-type") == "application/json"
        detail = json.loads(await text(resp))
        assert detail.get("field") == fname
        assert msg in detail["error"]
    malformed = await r.serve(req("POST", "/items", body=b"{nope", ctype="application/json"))
    assert malformed.status == 400
    wrong = await r.serve(req("POST", "/items", body=b"{}", ctype="text/plain"))
    assert wrong.status == 415
    none = await r.serve(req("POST", "/items", body=b"{}"))
    assert none.status == 415
    plus = await r.serve(
        req("POST", "/items", body=b'{"name":"a","price":1}', ctype="application/vnd.x+json")
    )
    assert plus.status == 201


async def test_json_shapes() -> None:
    async def lst(v: Json[list[int]]) -> list[int]:
        return [x * 2 for x in v]

    async def td(v: Json[Patch]) -> dict[str, Any]:
        return dict(v)

    async def mapping(v: Json[dict[str, float | None]]) -> dict[str, Any]:
        return v

    async def anything(v: Json[Any]) -> Any:
        return {"got": v}

    r = Router().post("/l", lst).post("/t", td).post("/m", mapping).post("/a", anything)
    j = "application/json"
    assert await text(await r.serve(req("POST", "/l", body=b"[1,2]", ctype=j))) == "[2,4]"
    assert (await r.serve(req("POST", "/l", body=b"[true]", ctype=j))).status == 422
    assert await text(await r.serve(req("POST", "/t", body=b'{"qty":3}', ctype=j))) == '{"qty":3}'
    bad = await r.serve(req("POST", "/t", body=b'{"qty":"3"}', ctype=j))
    assert json.loads(await text(bad))["field"] == "qty"
    assert await text(await r.serve(req("POST", "/m", body=b'{"a":null,"b":1}', ctype=j))) == (
        '{"a":null,"b":1.0}'
    )
    assert await text(await r.serve(req("POST", "/a", body=b"7", ctype=j))) == '{"got":7}'


async def test_body_limit_is_413() -> None:
    async def create(v: Json[Any]) -> str:
        return "ok"

    async def raw(data: bytes) -> str:
        return str(len(data))

    r = Router(body_limit=10).post("/j", create).post("/b", raw)
    assert (
        await r.serve(req("POST", "/j", body=b'"123456"', ctype="application/json"))
    ).status == 200
    big = await r.serve(req("POST", "/j", body=b'"1234567890"', ctype="application/json"))
    assert big.status == 413
    assert (await r.serve(req("POST", "/b", body=b"x" * 10))).status == 200
    assert (await r.serve(req("POST", "/b", body=b"x" * 11))).status == 413

    async def stream() -> Any:
        for _ in range(3):
            yield b"abcd"

    streamed = Request("POST", "/b", body=stream())  # no size hint: caught while reading
    assert (await r.serve(streamed)).status == 413


async def test_form() -> None:
    async def login(f: Form[Login]) -> str:
        return repr(f)

    r = Router().post("/login", login)
    form = "application/x-www-form-urlencoded"
    ok = await r.serve(req("POST", "/login", body=b"user=j%C3%BCrgen&remember=on", ctype=form))
    assert await text(ok) == repr(Login("jürgen", True))
    assert (await r.serve(req("POST", "/login", body=b"user=a", ctype="text/plain"))).status == 415
    missing = await r.serve(req("POST", "/login", body=b"remember=1", ctype=form))
    assert missing.status == 422
    assert json.loads(await text(missing))["field"] == "user"
    assert (await r.serve(req("POST", "/login", body=b"user=\xff", ctype=form))).status == 400


async def test_form_field_limit() -> None:
    async def as_dict(f: Form[dict[str, str]]) -> str:
        return str(len(f))

    r = Router().post("/", as_dict)
    form = "application/x-www-form-urlencoded"
    fields = "&".join(f"k{i}=v" for i in range(1000)).encode()
    assert await text(await r.serve(req("POST", "/", body=fields, ctype=form))) == "1000"
    over = fields + b"&k1000=v"
    assert (await r.serve(req("POST", "/", body=over, ctype=form))).status == 400


async def test_typed_headers_and_request_parts() -> None:
    async def h(
        ua: TypedHeader[UserAgent],
        auth: TypedHeader[Authorization | None],
        headers: HeaderMap,
        method: Method,
        uri: Uri,
        request: Request,
    ) -> str:
        assert request.headers is headers
        return f"{ua.value}|{auth is None}|{method}|{uri}"

    async def ct(c: TypedHeader[ContentType]) -> str:
        return c.mime.essence

    r = Router().route("GET,POST", "/", h).post("/ct", ct)
    ok = await r.serve(req("POST", "/?x", headers=[("User-Agent", "curl/8")]))
    assert await text(ok) == "curl/8|True|POST|/?x"
    missing = await r.serve(req("GET", "/"))
    assert missing.status == 400
    assert "User-Agent" in await text(missing)
    bad_auth = await r.serve(
        req("GET", "/", headers=[("User-Agent", "x"), ("Authorization", "Weird x")])
    )
    assert bad_auth.status == 400
    assert await text(await r.serve(req("POST", "/ct", ctype="text/html; charset=utf-8"))) == (
        "text/html"
    )


class Db:
    def __init__(self) -> None:
        self.items = {"a": 1}


@dataclass(frozen=True)
class RequestId:
    value: str


async def test_state_and_extension() -> None:
    db = Db()

    async def get(key: Path[str], db: State[Db], rid: Extension[RequestId],
                  maybe: Extension[Color | None]) -> str:  # fmt: skip
        return f"{db.items.get(key)} {rid.value} {maybe}"

    r = Router(state=db).get("/{key}", get)
    request = req("GET", "/a")
    request.extensions.insert(RequestId("r1"))
    assert await text(await r.serve(request)) == "1 r1 None"
    no_ext = await r.serve(req("GET", "/a"))
    assert no_ext.status == 500
    with pytest.raises(RouteError, match="no state"):
        Router().get("/{key}", get)
    with pytest.raises(RouteError, match="State\\[Db\\]"):
        Router(state="not a db").get("/{key}", get)


class Signals:
    """A custom extractor (the from_request protocol)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @classmethod
    async def from_request(cls, request: Request) -> Self:
        raw = await request.body.collect()
        if not raw:
            raise ExtractError("no signals", status=400)
        return cls(json.loads(raw))


async def test_from_request_protocol_and_text_bodies() -> None:
    async def h(s: Signals) -> dict[str, Any]:
        return s.data

    async def t(body: str) -> str:
        return body.upper()

    r = Router().post("/s", h).post("/t", t)
    assert await text(await r.serve(req("POST", "/s", body=b'{"a":1}'))) == '{"a":1}'
    resp = await r.serve(req("POST", "/s"))
    assert resp.status == 400
    assert await text(resp) == "no signals\n"
    assert await text(await r.serve(req("POST", "/t", body="ü".encode()))) == "Ü"
    assert (await r.serve(req("POST", "/t", body=b"\xff"))).status == 400


async def test_sync_and_keyword_only_handlers() -> None:
    def sync(id: Path[int], *, q: Query[dict[str, str]]) -> str:
        return f"{id} {q}"

    h = compile_handler(sync, route_params=("id",))
    request = req("GET", "/?a=b")
    request.extensions.insert(Extensions())  # unrelated value, ignored
    from pyrama_http.web import PathParams

    request.extensions.insert(PathParams({"id": "3"}))
    assert await text(await h.serve(request)) == "3 {'a': 'b'}"


async def test_handler_errors_propagate() -> None:
    async def boom() -> str:
        raise RuntimeError("bug")

    r = Router().get("/", boom)
    with pytest.raises(RuntimeError):
        await r.serve(req())


@given(st.integers(), st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
async def test_query_round_trip(n: int, s: str) -> None:
    from urllib.parse import urlencode

    @dataclass
    class Q:
        n: int
        s: str

    async def h(q: Query[Q]) -> str:
        return json.dumps([q.n, q.s])

    h.__annotations__["q"] = Query[Q]
    r = Router().get("/", h)
    resp = await r.serve(req("GET", "/?" + urlencode({"n": n, "s": s})))
    assert json.loads(await text(resp)) == [n, s]


class Strict:
    """A custom extractor failing with a pyrama HTTP error (status hint 400)."""

    @classmethod
    async def from_request(cls, request: Request) -> Self:
        from pyrama_http_types.errors import DatastarError

        raise DatastarError("signals are not valid")


async def test_custom_extractor_http_errors_use_their_status_hint() -> None:
    async def h(s: Strict) -> str:
        return "unreachable"

    resp = await Router().post("/", h).serve(req("POST", "/"))
    assert resp.status == 400
    assert await text(resp) == "signals are not valid\n"


async def test_deeply_nested_json_is_a_client_error() -> None:
    async def anything(v: Json[Any]) -> str:
        return "ok"

    async def nested(v: Json[list[list[Any]]]) -> str:
        return "ok"

    r = Router(body_limit=None).post("/a", anything).post("/n", nested)
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/a", "/n"):
        resp = await r.serve(req("POST", path, body=deep, ctype="application/json"))
        assert resp.status == 400
        assert "nested too deeply" in await text(resp)


@dataclass
class Inner:
    flag: bool
    score: float | None = None


@dataclass
class Outer:
    name: str
    count: int
    inners: list[Inner]
    labels: dict[str, int]
    mode: Literal["a", "b"] = "a"


_inner = st.builds(
    Inner, st.booleans(), st.none() | st.floats(allow_nan=False, allow_infinity=False)
)
_outer = st.builds(
    Outer,
    st.text(max_size=10),
    st.integers(),
    st.lists(_inner, max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from(["a", "b"]),
)


@given(_outer)
def test_json_converter_round_trips_dataclasses(value: Outer) -> None:
    from pyrama_http.web._convert import json_converter
    from pyrama_http.web._response import json_default

    conv = json_converter(Outer)
    assert conv(json.loads(json.dumps(value, default=json_default)), "") == value


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c,
                                                                         max_size=3),
                    max_leaves=10))  # fmt: skip
def test_json_converter_only_raises_invalid(value: Any) -> None:
    from pyrama_http.web._convert import Invalid, json_converter

    conv = json_converter(Outer)
    messages: list[str] = []
    try:
        conv(value, "")
    except Invalid as exc:
        messages.append(exc.message)
    assert all(messages)


@given(st.text(alphabet="ab=&%+2F0é ", max_size=30))
def test_parse_query_agrees_with_parse_qs(text: str) -> None:
    from urllib.parse import parse_qs

    from pyrama_http.web import parse_query

    assert parse_query(text) == parse_qs(text, keep_blank_values=True)


def test_parse_query_field_limit() -> None:
    from pyrama_http.web import parse_query

    assert len(parse_query("&".join(["a=1"] * 10), max_fields=10)["a"]) == 10
    with pytest.raises(ValueError, match="more than 10 fields"):
        parse_query("&".join(["a=1"] * 11), max_fields=10)


async def greet_with(greeting: str, name: Path[str], q: Query[dict[str, str]]) -> str:
    return f"{greeting}, {name}{q.get('end', '')}"


class Greeter:
    """A callable object as a handler."""

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    async def __call__(self, name: Path[str]) -> str:
        return f"{self.greeting}, {name}"


async def test_partials_and_callable_objects_are_handlers() -> None:
    import functools

    r = Router()
    r.get("/p/{name}", functools.partial(greet_with, "hi"))
    r.get("/c/{name}", Greeter("hey"))
    assert await text(await r.serve(req("GET", "/p/ada?end=!"))) == "hi, ada!"
    assert await text(await r.serve(req("GET", "/c/bob"))) == "hey, bob"


async def test_unsupported_types_fail_at_build_time() -> None:
    async def q(page: Query[int]) -> str:
        return ""

    async def j(v: Json[set[complex]]) -> str:
        return ""

    async def p(v: Path[complex]) -> str:
        return ""

    with pytest.raises(RouteError, match="parameter 'page': cannot build int"):
        Router().get("/", q)
    with pytest.raises(RouteError, match="parameter 'v': cannot validate JSON as complex"):
        Router().post("/", j)
    with pytest.raises(RouteError, match="parameter 'v': cannot build complex"):
        Router().get("/{v}", p)
