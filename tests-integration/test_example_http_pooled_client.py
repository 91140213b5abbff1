"""examples/http_pooled_client.py: the server sees far fewer connections than requests."""

from __future__ import annotations

import re
from collections.abc import Callable

from itsupport import Spawn


def test_connections_are_reused(spawn: Spawn, example: Callable[[str], list[str]]) -> None:
    r = spawn(example("http_pooled_client"), ready=r"^total: ")
    assert r.wait_exit() == 0
    out = r.output()
    seq = re.search(r"sequential http/1\.1: requests=20 connections=(\d+)", out)
    par = re.search(r"concurrent http/1\.1 \(5 at a time\): requests=20 connections=(\d+)", out)
    h2 = re.search(r"concurrent h2c: requests=20 connections=(\d+)", out)
    total = re.search(r"total: requests=(\d+) connections=(\d+)", out)
    assert seq is not None, out
    assert par is not None, out
    assert h2 is not None, out
    assert total is not None, out
    assert int(seq.group(1)) == 1  # one after the other: one connection does it all
    assert 1 <= int(par.group(1)) <= 5  # at most 5 in flight at once
    assert int(h2.group(1)) == 1  # HTTP/2 multiplexes every request on one connection
    requests, connections = int(total.group(1)), int(total.group(2))
    assert requests == 60
    assert connections < requests
    assert connections <= 7
