"""RequestIdLayer's default id maker (pooled random UUID4s) and its header handling."""

from __future__ import annotations

import os
import uuid

from pyrama_core import service_fn
from pyrama_http.layer import RequestId, RequestIdLayer
from pyrama_http.layer._request_id import _POOL_IDS, _uuid4, _Uuid4Maker
from pyrama_http_types import Request, Response


def test_default_ids_are_distinct_rfc4122_version_4_uuids_across_pool_refills() -> None:
    maker = _Uuid4Maker()
    ids = [maker() for _ in range(3 * _POOL_IDS + 5)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        u = uuid.UUID(text)
        assert u.version == 4
        assert u.variant == uuid.RFC_4122
        assert str(u) == text  # canonical lowercase 8-4-4-4-12 form


def test_a_forked_child_does_not_reuse_the_parents_pooled_ids() -> None:
    _uuid4()  # make sure a pool is loaded
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        os.write(w, _uuid4().encode())
        os._exit(0)
    os.close(w)
    child = os.read(r, 64).decode()
    os.close(r)
    os.waitpid(pid, 0)
    parent_next = _uuid4()
    assert uuid.UUID(child).version == 4
    assert child != parent_next


async def test_absent_empty_and_given_ids() -> None:
    seen: list[tuple[str, list[str]]] = []

    async def inner(req: Request) -> Response:
        seen.append((req.extensions.require(RequestId).value, req.headers.get_all("x-request-id")))
        return Response.empty()

    svc = RequestIdLayer().layer(service_fn(inner))
    absent = await svc.serve(Request())
    empty = await svc.serve(Request(headers=[("X-Request-Id", "")]))
    given = await svc.serve(Request(headers=[("X-Request-Id", "abc")]))
    (a, a_fields), (e, e_fields), (g, g_fields) = seen
    assert uuid.UUID(a).version == 4
    assert a_fields == [a]
    assert uuid.UUID(e).version == 4
    assert e_fields == [e]  # the empty value was replaced, not kept next to the new one
    assert (g, g_fields) == ("abc", ["abc"])
    assert absent.headers.get_all("x-request-id") == [a]
    assert empty.headers.get_all("x-request-id") == [e]
    assert given.headers.get_all("x-request-id") == ["abc"]
    assert a != e
