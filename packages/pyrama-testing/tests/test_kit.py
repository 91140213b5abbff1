import socket

import pytest

from pyrama_testing import free_port, mock_stream_pair, require_peer


async def test_mock_stream_pair_carries_bytes_and_eof() -> None:
    a, b = mock_stream_pair()
    a.write(b"hello ")
    a.write(b"world")
    assert await b.read(5) == b"hello"
    assert await b.read() == b" world"
    a.write_eof()
    assert await b.read() == b""
    assert a.written == [b"hello ", b"world"]


async def test_mock_stream_close_gives_peer_eof_and_refuses_writes() -> None:
    a, b = mock_stream_pair()
    await a.close()
    assert a.is_closing()
    assert await b.read() == b""
    with pytest.raises(ConnectionResetError):
        a.write(b"x")


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        assert s.getsockname()[1] == port


def test_require_peer_finds_sh_and_fails_in_ci_for_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require_peer("sh").endswith("/sh")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        require_peer("definitely-not-a-real-peer-xyz")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require_peer("definitely-not-a-real-peer-xyz")
