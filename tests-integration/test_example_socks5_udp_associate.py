"""examples/socks5_udp_associate.py: PySocks (a third-party client) relays UDP through it."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import socks  # type: ignore[import-untyped]  # PySocks
from itsupport import Spawn

HANG = 20.0


@pytest.fixture
def udp_echo() -> Iterator[tuple[int, list[tuple[bytes, tuple[str, int]]]]]:
    """A UDP echo on 127.0.0.1 answering ``echo:<data>``; records what it got and from whom."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    seen: list[tuple[bytes, tuple[str, int]]] = []
    stop = threading.Event()

    def run() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            seen.append((data, addr))
            sock.sendto(b"echo:" + data, addr)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield sock.getsockname()[1], seen
    stop.set()
    t.join(5)
    sock.close()


def test_pysocks_udp_associate(
    spawn: Spawn,
    example: Callable[[str], list[str]],
    udp_echo: tuple[int, list[tuple[bytes, tuple[str, int]]]],
) -> None:
    port, seen = udp_echo
    proxy = spawn(example("socks5_udp_associate"), env={"PORT": "0"})
    s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
    s.set_proxy(socks.SOCKS5, "127.0.0.1", proxy.port)
    s.settimeout(HANG)
    try:
        s.sendto(b"one", ("127.0.0.1", port))
        data, source = s.recvfrom(4096)
        assert data == b"echo:one"
        assert source == ("127.0.0.1", port)
        # a domain goes to the proxy unresolved and is resolved there
        s.sendto(b"two", ("localhost", port))
        data, _ = s.recvfrom(4096)
        assert data == b"echo:two"
        big = bytes(range(256)) * 32
        s.sendto(big, ("127.0.0.1", port))
        data, _ = s.recvfrom(16384)
        assert data == b"echo:" + big
    finally:
        s.close()
    # the echo saw the payloads only (headers stripped), all from the proxy's relay socket
    assert [d for d, _ in seen] == [b"one", b"two", big]
    assert len({addr for _, addr in seen}) == 1
    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit() == 0
