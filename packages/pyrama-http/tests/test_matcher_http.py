"""HTTP matchers and match_service."""

from __future__ import annotations

import socket

import pytest

from pyrama_core import Extensions
from pyrama_http.matcher import (
    DomainMatcher,
    HeaderMatcher,
    MethodMatcher,
    PathMatcher,
    SocketAddressMatcher,
    UriMatcher,
    VersionMatcher,
    request_host,
)
from pyrama_http.web import Path, PathParams, match_service
from pyrama_http_types import Request, Response, Version
from pyrama_net import SocketInfo


def req(
    method: str = "GET",
    target: str = "/",
    headers: list[tuple[str, str]] | None = None,
    peer: tuple[str, int] | None = None,
    version: Version = Version.HTTP_11,
) -> Request:
    r = Request(method, target, headers=headers or [], version=version)
    if peer is not None:
        fam = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
        r.extensions.insert(SocketInfo(("127.0.0.1", 80), peer, fam))
    return r


def test_method_and_version() -> None:
    m = MethodMatcher("GET", "HEAD")
    assert m.matches(req("GET"))
    assert not m.matches(req("POST"))
    assert not MethodMatcher("get").matches(req("GET"))  # case-sensitive
    v = VersionMatcher(Version.HTTP_2)
    assert v.matches(req(version=Version.HTTP_2))
    assert not v.matches(req())
    with pytest.raises(ValueError, match="at least one"):
        MethodMatcher()


def test_path_captures_into_extensions() -> None:
    m = PathMatcher("/users/{id}/files/{*rest}")
    ext = Extensions()
    assert m.matches(req(target="/users/7/files/a/b%20c"), ext)
    assert dict(ext.require(PathParams)) == {"id": "7", "rest": "a/b c"}
    assert not m.matches(req(target="/users//files/x"))
    assert not m.matches(req(target="/users/7"))
    assert m.matches(req(target="/users/7/files/"))
    exact = PathMatcher("/a/{x}")
    assert exact.matches(req(target="/a/1"))
    assert not exact.matches(req(target="/a/1/2"))
    assert PathMatcher("/static").matches(req(target="/static?q"))
    # a failed And leaves nothing behind
    ext2 = Extensions()
    assert not (m & MethodMatcher("POST")).matches(req(target="/users/1/files/x"), ext2)
    assert PathParams not in ext2


def test_domain() -> None:
    exact = DomainMatcher("Example.com")
    sub = DomainMatcher.sub("example.com")
    for host, e, s in (("example.com", True, True), ("EXAMPLE.com:8080", True, True),
                       ("api.example.com", False, True), ("badexample.com", False, False),
                       ("example.com.", True, True)):  # fmt: skip
        r = req(headers=[("Host", host)])
        assert exact.matches(r) is e, host
        assert sub.matches(r) is s, host
    assert exact.matches(req(target="http://example.com/x"))
    assert not exact.matches(req())
    assert request_host(req(headers=[("Host", "[::1]:80")])) == "::1"


def test_headers() -> None:
    r = req(headers=[("Connection", "keep-alive, Upgrade"), ("X-Env", "prod"), ("X-Env", "b")])
    assert HeaderMatcher.present("x-env").matches(r)
    assert not HeaderMatcher.present("x-other").matches(r)
    assert HeaderMatcher.equals("X-Env", "b").matches(r)
    assert not HeaderMatcher.equals("X-Env", "PROD").matches(r)
    assert HeaderMatcher.contains("connection", "upgrade").matches(r)
    assert not HeaderMatcher.contains("connection", "close").matches(r)
    with pytest.raises(ValueError, match="needs a value"):
        HeaderMatcher("x", None, mode="equals")


def test_socket_address() -> None:
    local = req(peer=("127.0.0.1", 5000))
    remote = req(peer=("10.1.2.3", 6000))
    v6 = req(peer=("::1", 7000))
    assert SocketAddressMatcher.ip("127.0.0.1").matches(local)
    assert SocketAddressMatcher.network("10.0.0.0/8").matches(remote)
    assert not SocketAddressMatcher.network("10.0.0.0/8").matches(local)
    assert SocketAddressMatcher.port(6000).matches(remote)
    assert SocketAddressMatcher.exact("10.1.2.3:6000").matches(remote)
    assert not SocketAddressMatcher.exact("10.1.2.3:6001").matches(remote)
    lo = SocketAddressMatcher.loopback()
    assert lo.matches(local)
    assert lo.matches(v6)
    assert not lo.matches(remote)
    mapped = req(peer=("::ffff:10.1.2.3", 1))
    assert SocketAddressMatcher.network("10.0.0.0/8").matches(mapped)
    assert not SocketAddressMatcher.ip("127.0.0.1").matches(req())  # no socket info


def test_combinations_and_uri() -> None:
    api = PathMatcher("/api/{*rest}") & ~MethodMatcher("DELETE")
    assert api.matches(req("GET", "/api/x"))
    assert not api.matches(req("DELETE", "/api/x"))
    either = DomainMatcher("a.com") | HeaderMatcher.present("x-a")
    assert either.matches(req(headers=[("x-a", "1")]))
    assert not either.matches(req(headers=[("host", "b.com")]))
    assert UriMatcher(r"\.php$").matches(req(target="/index.php"))


async def test_match_service_first_match_wins() -> None:
    async def user(id: Path[int]) -> str:
        return f"user {id}"

    class Svc:
        async def serve(self, request: Request) -> Response:
            return Response.text("svc")

    svc = match_service(
        [
            (MethodMatcher("GET") & PathMatcher("/users/{id}"), user),
            (DomainMatcher("svc.local"), Svc()),
            (PathMatcher("/tea"), lambda: (418, "tea")),
        ],
    )
    assert (await (await svc.serve(req("GET", "/users/5"))).body.collect()) == b"user 5"
    assert (await (await svc.serve(req("GET", "/x", [("Host", "svc.local")]))).body.collect()) == (
        b"svc"
    )
    assert (await svc.serve(req("GET", "/tea"))).status == 418
    assert (await svc.serve(req("POST", "/users/5"))).status == 404
    fb = match_service([], fallback=lambda: (503, "down"))
    assert (await fb.serve(req())).status == 503
    with pytest.raises(TypeError):
        match_service([(object(), Svc())])  # type: ignore[list-item]
