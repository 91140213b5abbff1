"""`pyrama serve proxy` with curl and `pyrama send`: HTTP and SOCKS5 on one port, auth with
username labels, and chains to an upstream proxy chosen from a proxy list (pyrama or squid)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from itsupport import PEER_TIMEOUT, Running, Spawn

from pyrama_testing import free_port, require_peer

PROXY_READY = r"(?i)listening.*?address=(?P<host>127\.0\.0\.1):(?P<port>\d+)"


@pytest.fixture
def origin(spawn: Spawn, pyrama_cli: list[str]) -> Running:
    """``pyrama serve echo``: answers each request with JSON describing it (headers too)."""
    return spawn([*pyrama_cli, "serve", "echo", "--bind", "127.0.0.1:0"])


def proxy(spawn: Spawn, cli: list[str], *extra: str) -> Running:
    """Start ``pyrama serve proxy 127.0.0.1:0 <extra>``."""
    return spawn([*cli, "serve", "proxy", "127.0.0.1:0", *extra], ready=PROXY_READY)


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run curl (silent, errors shown) with a hang guard."""
    exe = require_peer("curl")
    return subprocess.run(
        [exe, "-sS", "--max-time", "15", *args],
        capture_output=True,
        timeout=PEER_TIMEOUT,
        check=False,
    )


def echoed(out: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    """The JSON the echo origin answered (asserting curl succeeded)."""
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    data: dict[str, object] = json.loads(out.stdout)
    return data


def header(data: dict[str, object], name: str) -> list[str]:
    """Values of header *name* in an echoed request."""
    headers = data["headers"]
    assert isinstance(headers, list)
    return [str(v) for k, v in headers if str(k).lower() == name.lower()]


def test_curl_http_and_socks5_on_one_port(
    spawn: Spawn, pyrama_cli: list[str], origin: Running
) -> None:
    front = proxy(spawn, pyrama_cli, "--socks5")
    assert "socks5=True" in front.output()
    url = f"http://127.0.0.1:{origin.port}/hello?x=1"
    via = f"127.0.0.1:{front.port}"
    # absolute-form forwarding, a CONNECT tunnel, SOCKS5 with local and remote resolution
    for args in (
        ["-x", f"http://{via}"],
        ["-p", "-x", f"http://{via}"],
        ["-x", f"socks5://{via}"],
        ["-x", f"socks5h://{via}"],
    ):
        data = echoed(curl(*args, url))
        assert data["method"] == "GET", args
        assert str(data["uri"]).endswith("/hello?x=1"), args
        assert not header(data, "proxy-connection"), args


def test_without_socks5_flag_socks5_is_refused(
    spawn: Spawn, pyrama_cli: list[str], origin: Running
) -> None:
    front = proxy(spawn, pyrama_cli)
    out = curl("-x", f"socks5h://127.0.0.1:{front.port}", f"http://127.0.0.1:{origin.port}/")
    assert out.returncode != 0
    echoed(curl("-x", f"http://127.0.0.1:{front.port}", f"http://127.0.0.1:{origin.port}/"))


def test_auth_http_and_socks5(spawn: Spawn, pyrama_cli: list[str], origin: Running) -> None:
    front = proxy(spawn, pyrama_cli, "--socks5", "--auth", "john:secret", "--auth", "ann:pw")
    url = f"http://127.0.0.1:{origin.port}/"
    port = front.port
    status = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(*status, "-x", f"http://127.0.0.1:{port}", url).stdout == b"407"
    assert curl(*status, "-x", f"http://john:wrong@127.0.0.1:{port}", url).stdout == b"407"
    assert curl(*status, "-x", f"http://john-bogus-x:secret@127.0.0.1:{port}", url).stdout == b"407"
    echoed(curl("-x", f"http://john:secret@127.0.0.1:{port}", url))
    echoed(curl("-x", f"http://ann:pw@127.0.0.1:{port}", "-p", url))
    # labels are parsed off before the password check (no --proxy-db: nothing else happens)
    echoed(curl("-x", f"http://john-country-us:secret@127.0.0.1:{port}", url))
    echoed(curl("-x", f"socks5h://john:secret@127.0.0.1:{port}", url))
    assert curl("-x", f"socks5h://john:nope@127.0.0.1:{port}", url).returncode != 0
    assert curl("-x", f"socks5h://127.0.0.1:{port}", url).returncode != 0


def wait_listening(port: int, timeout: float = 30.0) -> None:
    """Wait until 127.0.0.1:*port* accepts connections (a peer without a ready line)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.1)


def _proxy_db(path: Path, rows: list[str]) -> Path:
    path.write_text("id,address,http,country,residential\n" + "".join(r + "\n" for r in rows))
    return path


def test_chain_to_pyrama_upstream_chosen_by_username(
    spawn: Spawn, pyrama_cli: list[str], origin: Running, tmp_path: Path
) -> None:
    upstream = proxy(spawn, pyrama_cli, "--socks5", "--auth", "up:pw", "-v")
    dead = free_port()
    db = _proxy_db(
        tmp_path / "proxies.csv",
        [
            f"us-1,http://up:pw@127.0.0.1:{upstream.port},true,US,true",
            f"de-1,http://127.0.0.1:{dead},true,de,false",
            f"us-socks,socks5h://up:pw@127.0.0.1:{upstream.port},false,us,false",
        ],
    )
    front = proxy(spawn, pyrama_cli, "--socks5", "--auth", "john:secret", "--proxy-db", str(db))
    url = f"http://127.0.0.1:{origin.port}/chained"
    base = f"127.0.0.1:{front.port}"

    def upstream_connections() -> int:
        return len(re.findall(r"connection opened", upstream.output()))

    before = upstream_connections()
    for args in (
        ["-x", f"http://john-country-us-residential:secret@{base}"],  # absolute form
        ["-p", "-x", f"http://john-country-us-residential:secret@{base}"],  # CONNECT
        ["-x", f"socks5h://john-country-us-residential:secret@{base}"],  # SOCKS5 in
        ["-p", "-x", f"http://john-country-us-residential-false:secret@{base}"],  # socks5 up
    ):
        data = echoed(curl(*args, url))
        assert data["uri"] == "/chained" or str(data["uri"]).endswith("/chained")
        upstream.wait_for(r"connection opened", start=0)
    # every request reached the origin through the upstream (one connection each)
    upstream.wait_for(r"connection closed")
    assert upstream_connections() >= before + 4
    status = ["-o", "/dev/null", "-w", "%{http_code}"]
    # de-1 is down: the chosen upstream cannot be reached
    assert curl(*status, "-x", f"http://john-country-de:secret@{base}", url).stdout == b"502"
    # nothing matches: 503 from the front proxy
    assert curl(*status, "-x", f"http://john-country-fr:secret@{base}", url).stdout == b"503"
    out = curl("-p", "-x", f"http://john-country-fr:secret@{base}", url)
    assert out.returncode != 0
    assert b"503" in out.stderr


def test_chain_to_squid_upstream(
    spawn: Spawn, pyrama_cli: list[str], origin: Running, tmp_path: Path
) -> None:
    squid = require_peer("squid")
    port = free_port()
    conf = tmp_path / "squid.conf"
    run_dir = tmp_path / "squid"
    run_dir.mkdir()
    os.chmod(run_dir, 0o777)
    conf.write_text(
        f"http_port 127.0.0.1:{port}\nhttp_access allow all\ncache deny all\ncache_mem 0 MB\n"
        f"access_log none\ncache_log /dev/null\npid_filename {run_dir}/squid.pid\n"
        f"coredump_dir {run_dir}\npinger_enable off\nshutdown_lifetime 1 seconds\n"
        "visible_hostname pyrama-test-squid\n"
    )
    spawn([squid, "-N", "-f", str(conf)], ready=None)
    db = _proxy_db(tmp_path / "proxies.csv", [f"squid,http://127.0.0.1:{port},true,nl,false"])
    front = proxy(spawn, pyrama_cli, "--auth", "john:secret", "--proxy-db", str(db))
    url = f"http://127.0.0.1:{origin.port}/via-squid"
    wait_listening(port)
    out = curl("-x", f"http://john-country-nl:secret@127.0.0.1:{front.port}", url)
    data = echoed(out)
    # squid forwarded it: its Via names it
    assert any("pyrama-test-squid" in v for v in header(data, "via")), data
    # through a CONNECT tunnel squid does not touch the request
    data = echoed(curl("-p", "-x", f"http://john-country-nl:secret@127.0.0.1:{front.port}", url))
    assert not header(data, "via")


def test_pyrama_send_proxy_flags(spawn: Spawn, pyrama_cli: list[str], origin: Running) -> None:
    front = proxy(spawn, pyrama_cli, "--socks5", "--auth", "john:secret")
    url = f"http://127.0.0.1:{origin.port}/sent"

    def send(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*pyrama_cli, "send", *args, url],
            capture_output=True,
            timeout=PEER_TIMEOUT,
            check=False,
        )

    base = f"127.0.0.1:{front.port}"
    for args in (
        ["-x", f"http://{base}", "-U", "john:secret"],
        ["--proxy", f"http://john:secret@{base}"],
        ["-x", f"socks5h://{base}", "--proxy-user", "john:secret"],
    ):
        out = send(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert json.loads(out.stdout)["uri"] in ("/sent", url), args
    # the shortcut form takes the flags too
    out = subprocess.run(
        [*pyrama_cli, url, "-x", base, "-U", "john:secret"],
        capture_output=True,
        timeout=PEER_TIMEOUT,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert send("-x", base, "-U", "john:wrong", "-f").returncode == 22
    bad = send("-x", f"socks5h://{base}", "-U", "john:wrong")
    assert bad.returncode != 0
    assert send("-U", "john:secret").returncode == 2
    assert send("-x", "ftp://127.0.0.1:1").returncode == 5
