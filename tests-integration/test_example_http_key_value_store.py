"""examples/http_key_value_store.py: the store's routes, HEAD, 404/405, admin bearer auth."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from itsupport import Peers, Spawn


def test_key_value_store(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    srv = spawn(example("http_key_value_store"), env={"PORT": "0", "ADMIN_TOKEN": "t0ken"})
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, timeout=20) as c:
        assert c.get("/keys").json() == []
        r = c.post("/item/hello", content=b"world\x00\xff")
        assert r.status_code == 201
        got = c.get("/item/hello")
        assert got.content == b"world\x00\xff"
        assert got.headers["content-type"] == "application/octet-stream"
        head = c.head("/item/hello")
        assert head.status_code == 200
        assert head.headers["content-length"] == "7"
        assert c.head("/item/nope").status_code == 404
        assert c.get("/item/nope").status_code == 404
        assert c.post("/items", json={"a": "1", "b": "2"}).json() == {"stored": 2}
        assert c.get("/keys").json() == ["hello", "a", "b"]
        assert c.post("/keys/exists", json=["a", "zz"]).json() == {"a": True, "zz": False}
        bad = c.post("/items", json={"a": 1})
        assert bad.status_code == 422
        assert bad.json()["field"] == "a"
        assert c.post("/items", content=b"{}").status_code == 415
        put = c.put("/item/hello", content=b"x")
        assert put.status_code == 405
        assert put.headers["allow"] == "GET, POST, HEAD"
        # admin
        denied = c.delete("/admin/item/a")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
        wrong = c.delete("/admin/item/a", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        admin = {"Authorization": "Bearer t0ken"}
        assert c.delete("/admin/item/a", headers=admin).status_code == 204
        assert c.delete("/admin/item/a", headers=admin).status_code == 404
        assert c.get("/keys").json() == ["hello", "b"]
    # curl: the same store
    assert peers.curl(f"{base}/item/b") == b"2"
    assert (
        peers.curl(f"{base}/admin/keys", "-X", "DELETE", "-H", "authorization: Bearer t0ken") == b""
    )
    assert httpx.get(f"{base}/keys", timeout=20).json() == []
