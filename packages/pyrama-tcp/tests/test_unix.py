"""Unix domain sockets: UnixListener, UnixStream, UnixConnector."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from pyrama_core import Shutdown, service_fn
from pyrama_core.errors import ConfigError
from pyrama_net.errors import ConnectError
from pyrama_tcp.errors import AddressInUseError, BindError
from pyrama_tcp.unix import (
    DEFAULT_UNIX_MODE,
    PeerCredentials,
    UnixConnector,
    UnixListener,
    UnixStream,
)

HANG = 10.0


@pytest.fixture
def sockdir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the ~108-byte limit of a Unix socket path
    d = tempfile.mkdtemp(prefix="pyr", dir="/tmp")
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


async def echo(stream: UnixStream) -> None:
    while data := await stream.read():
        stream.write(data)
        await stream.drain()


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)


async def read_all(stream: UnixStream) -> bytes:
    out = bytearray()
    async with asyncio.timeout(HANG):
        while chunk := await stream.read():
            out += chunk
    return bytes(out)


def exists(path: Path) -> bool:
    """A local stat, too quick to matter to the event loop."""
    return os.path.lexists(path)


def leave_stale_socket(path: Path) -> None:
    """Bind a socket at *path* and close it without unlinking: what a crashed server leaves."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


async def unix_echo_scenario(path: Path) -> None:
    listener = await UnixListener.bind(path)
    task = asyncio.create_task(listener.serve(service_fn(echo)))

    async def client(i: int) -> None:
        stream = await UnixStream.connect(path)
        payload = b"unix %d " % i * 100
        stream.write(payload)
        stream.write_eof()
        assert await read_all(stream) == payload
        await stream.close()

    await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(32))), HANG)
    await stop(task)
    assert not exists(path)  # removed on close


async def test_echo_over_unix_socket(sockdir: Path) -> None:
    await unix_echo_scenario(sockdir / "echo.sock")


def test_echo_over_unix_socket_under_uvloop(sockdir: Path) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(unix_echo_scenario(sockdir / "echo.sock"))


async def test_stream_facts(sockdir: Path) -> None:
    path = sockdir / "facts.sock"
    seen: dict[str, Any] = {}

    async def inspect(stream: UnixStream) -> None:
        seen["local"] = stream.local_path
        seen["peer"] = stream.peer_path
        seen["creds"] = stream.peer_credentials()
        stream.write(b"ok")

    async with await UnixListener.bind(path) as listener:
        assert listener.path == str(path)
        assert listener.local_addr == str(path)
        assert repr(listener) == f"UnixListener(path={str(path)!r})"
        task = asyncio.create_task(listener.serve(service_fn(inspect)))
        client = await UnixStream.connect(path)
        assert client.peer_path == str(path)
        assert client.local_path is None
        assert await read_all(client) == b"ok"
        await client.close()
        await stop(task)
    assert seen["local"] == str(path)
    assert seen["peer"] is None
    assert seen["creds"] == PeerCredentials(pid=os.getpid(), uid=os.geteuid(), gid=os.getegid())


async def test_stale_socket_file_is_replaced(sockdir: Path) -> None:
    path = sockdir / "stale.sock"
    leave_stale_socket(path)
    listener = await UnixListener.bind(path)
    task = asyncio.create_task(listener.serve(service_fn(echo)))
    stream = await UnixStream.connect(path)
    stream.write(b"fresh")
    stream.write_eof()
    assert await read_all(stream) == b"fresh"
    await stream.close()
    await stop(task)


async def test_stale_file_kept_when_asked(sockdir: Path) -> None:
    path = sockdir / "keep.sock"
    leave_stale_socket(path)
    with pytest.raises(AddressInUseError):
        await UnixListener.bind(path, remove_stale=False)
    assert exists(path)


async def test_live_listener_is_never_replaced(sockdir: Path) -> None:
    path = sockdir / "live.sock"
    async with await UnixListener.bind(path) as first:
        inode = os.lstat(path).st_ino
        with pytest.raises(AddressInUseError) as info:
            await UnixListener.bind(path)
        assert info.value.errno == errno.EADDRINUSE
        assert os.lstat(path).st_ino == inode
        task = asyncio.create_task(first.serve(service_fn(echo)))
        stream = await UnixStream.connect(path)  # the first listener still answers
        stream.write(b"still here")
        stream.write_eof()
        assert await read_all(stream) == b"still here"
        await stream.close()
        await stop(task)


async def test_non_socket_path_is_never_removed(sockdir: Path) -> None:
    path = sockdir / "precious.txt"
    path.write_text("do not delete")
    with pytest.raises(AddressInUseError):
        await UnixListener.bind(path)
    assert path.read_text() == "do not delete"


async def test_close_removes_only_our_socket_file(sockdir: Path) -> None:
    path = sockdir / "mine.sock"
    listener = await UnixListener.bind(path)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    await listener.close()
    assert not exists(path)

    replaced = await UnixListener.bind(path)
    os.unlink(path)
    path.write_text("someone else's file now")
    await replaced.close()
    assert path.read_text() == "someone else's file now"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def test_default_mode_is_owner_only(sockdir: Path) -> None:
    path = sockdir / "private.sock"
    old = os.umask(0o000)  # even with a wide-open umask the file starts private
    try:
        async with await UnixListener.bind(path):
            assert _mode(path) == DEFAULT_UNIX_MODE == 0o600
        assert os.umask(old) == 0o000  # the umask was restored after bind
    finally:
        os.umask(old)


async def test_explicit_and_umask_modes(sockdir: Path) -> None:
    async with await UnixListener.bind(sockdir / "group.sock", mode=0o660):
        assert _mode(sockdir / "group.sock") == 0o660
    old = os.umask(0o027)
    try:
        async with await UnixListener.bind(sockdir / "umask.sock", mode=None):
            assert _mode(sockdir / "umask.sock") == 0o777 & ~0o027
    finally:
        os.umask(old)


@pytest.mark.parametrize("bad", [-1, 0o1000, True, "0600"])
async def test_mode_is_validated(sockdir: Path, bad: Any) -> None:
    with pytest.raises(ConfigError):
        await UnixListener.bind(sockdir / "x.sock", mode=bad)


def connect_as_nobody(path: Path) -> str:
    """Fork, drop to uid/gid 65534 and try to connect to *path*."""
    pid = os.fork()
    if pid == 0:  # child: only plain syscalls, then _exit
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(path))
            code = 0
        except PermissionError:
            code = 13
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return {0: "connected", 13: "denied"}.get(os.waitstatus_to_exitcode(status), "error")


async def test_permissions_are_enforced(sockdir: Path) -> None:
    if os.geteuid() == 0:
        # root ignores file modes: check another user against 0o600 and 0o666 sockets
        os.chmod(sockdir, 0o755)
        async with await UnixListener.bind(sockdir / "private.sock", mode=0o600):
            assert connect_as_nobody(sockdir / "private.sock") == "denied"
        async with await UnixListener.bind(sockdir / "public.sock", mode=0o666):
            assert connect_as_nobody(sockdir / "public.sock") == "connected"
    else:
        async with await UnixListener.bind(sockdir / "closed.sock", mode=0o000):
            with pytest.raises(ConnectError) as info:
                await UnixStream.connect(sockdir / "closed.sock")
            assert isinstance(info.value.__cause__, PermissionError)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux-only")
async def test_abstract_socket(sockdir: Path) -> None:
    name = f"\0pyrama-test-{os.getpid()}-{id(sockdir)}"
    listener = await UnixListener.bind(name)
    task = asyncio.create_task(listener.serve(service_fn(echo)))
    stream = await UnixStream.connect(name)
    stream.write(b"abstract")
    stream.write_eof()
    assert await read_all(stream) == b"abstract"
    await stream.close()
    await stop(task)


async def test_path_too_long_is_a_bind_error(sockdir: Path) -> None:
    path = sockdir / ("x" * 200)
    with pytest.raises(BindError):
        await UnixListener.bind(path)


async def test_missing_directory_is_a_bind_error(sockdir: Path) -> None:
    with pytest.raises(BindError) as info:
        await UnixListener.bind(sockdir / "nope" / "s.sock")
    assert info.value.errno == errno.ENOENT


async def test_empty_path_is_refused() -> None:
    with pytest.raises(ConfigError):
        await UnixListener.bind("")
    with pytest.raises(ConfigError):
        UnixConnector("")


async def test_unix_listener_shares_max_connections_and_graceful(sockdir: Path) -> None:
    path = sockdir / "limits.sock"
    active = 0
    peak = 0
    gate = asyncio.Event()

    async def held(stream: UnixStream) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await gate.wait()
            stream.write(b"ok")
        finally:
            active -= 1

    shutdown = Shutdown(deadline=HANG)
    listener = await UnixListener.bind(path)
    serve = asyncio.create_task(
        listener.serve(service_fn(held), guard=shutdown.guard(), max_connections=2)
    )
    clients = [await UnixStream.connect(path) for _ in range(5)]
    async with asyncio.timeout(HANG):
        while active < 2:  # noqa: ASYNC110 - polling a counter
            await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    assert active == 2
    gate.set()
    for c in clients:
        assert await read_all(c) == b"ok"
        await c.close()
    assert peak == 2
    result = await asyncio.wait_for(shutdown.shutdown(), HANG)
    assert result.clean
    await asyncio.wait_for(serve, HANG)
    assert not exists(path)


async def test_connector_round_trip_and_errors(sockdir: Path) -> None:
    path = sockdir / "conn.sock"
    connector = UnixConnector(path, timeout=HANG)
    assert connector.path == str(path)
    with pytest.raises(ConnectError) as info:
        await connector.connect()
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value.__cause__, FileNotFoundError)

    listener = await UnixListener.bind(path)
    task = asyncio.create_task(listener.serve(service_fn(echo)))
    target = object()
    established = await connector.serve(target)
    stream = established.conn
    assert isinstance(stream, UnixStream)
    assert established.target is target
    assert established.extensions is stream.extensions
    stream.write(b"via connector")
    stream.write_eof()
    assert await read_all(stream) == b"via connector"
    await stream.close()
    await stop(task)

    leave_stale_socket(sockdir / "dead.sock")
    with pytest.raises(ConnectError):  # a stale file: nothing listens any more
        await UnixConnector(sockdir / "dead.sock").connect()


@pytest.mark.parametrize("bad", [0, -1.0])
def test_connector_timeout_is_validated(bad: float) -> None:
    with pytest.raises(ConfigError):
        UnixConnector("/tmp/x.sock", timeout=bad)


async def test_from_socket(sockdir: Path) -> None:
    path = sockdir / "adopted.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen()
    listener = UnixListener.from_socket(sock, remove_on_close=True)
    task = asyncio.create_task(listener.serve(service_fn(echo)))
    stream = await UnixStream.connect(path)
    stream.write(b"adopted")
    stream.write_eof()
    assert await read_all(stream) == b"adopted"
    await stream.close()
    await stop(task)
    assert not exists(path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, pytest.raises(ConfigError):
        UnixListener.from_socket(tcp)
