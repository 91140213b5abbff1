"""examples/http_high_level_client.py: the fluent client API against its own local server."""

from __future__ import annotations

from collections.abc import Callable

from itsupport import Spawn


def test_every_step_prints_its_result(spawn: Spawn, example: Callable[[str], list[str]]) -> None:
    r = spawn(example("http_high_level_client"), ready=r"^done$")
    assert r.wait_exit() == 0
    lines = r.output().splitlines()
    assert "GET /users/1 -> 200 {'id': 1, 'name': 'ada', 'seen_header': 'example'}" in lines
    assert "POST /users -> 201 location=/users/2 {'id': 2, 'name': 'grace'}" in lines
    assert "GET /search -> q=rama&page=2" in lines
    assert "GET /me -> john" in lines
    assert "GET /count -> ['0', '1', '2', '3', '4']" in lines
    assert "GET /users/999 -> HttpStatusError 404" in lines
    assert "h2c GET /search -> HTTP/2" in lines
