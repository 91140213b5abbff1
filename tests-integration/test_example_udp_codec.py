"""examples/udp_codec.py: a line codec over UDP, upper-casing lines; bad datagrams get ERR."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable

from itsupport import Peers, Spawn


def test_shouts_lines_back_to_socat_and_nc(
    spawn: Spawn, example: Callable[[str], list[str]], udp_port: int, peers: Peers
) -> None:
    r = spawn(example("udp_codec"), env={"PORT": str(udp_port)})
    assert r.address == ("127.0.0.1", udp_port)
    assert peers.socat_udp(udp_port, b"hello pyrama\n", 13) == b"HELLO PYRAMA\n"
    assert peers.nc_udp(udp_port, b"one\ntwo\r\nthree", 14) == b"ONE\nTWO\nTHREE\n"
    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
    assert "stopped" in r.output()


def test_refused_datagrams_get_an_err_reply(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    r = spawn(example("udp_codec"), env={"PORT": "0"})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(20)
        s.connect(("127.0.0.1", r.port))

        s.send(b"caf\xc3\xa9 ok\n")  # valid UTF-8 passes
        assert s.recv(65535) == "CAFÉ OK\n".encode()

        s.send(b"\xff\xfe\n")
        reply = s.recv(65535)
        assert reply.startswith(b"ERR ")
        assert b"not UTF-8" in reply

        s.send(b"x" * 201)  # one line over the limit
        assert b"longer than 200" in s.recv(65535)
        s.send(b"x" * 200)  # exactly at the limit is fine
        assert s.recv(65535) == b"X" * 200 + b"\n"

        s.send(b"a\n" * 11)  # too many lines
        assert b"more than 10 lines" in s.recv(65535)
        s.send(b"a\n" * 10)
        assert s.recv(65535) == b"A\n" * 10

    r.wait_for(r"datagram refused.*not UTF-8")
    # and socat still gets its answer afterwards
    assert peers.socat_udp(r.port, b"still up\n", 9) == b"STILL UP\n"
