"""examples/haproxy_client_ip.py: HTTP behind HaProxyLayer, driven by curl and a real haproxy."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Poll, Running, Spawn, make_pki

from pyrama_testing import free_port, require_peer


def curl(peers: Peers, url: str, *extra: str) -> tuple[dict[str, str], str, int]:
    """GET *url*; return (response headers, body, curl's local port)."""
    binary = require_peer("curl")
    out = peers.run(
        [binary, "-sS", "--fail", "--max-time", "30", "-i", "-w", "\n%{local_port}", *extra, url],
        timeout=60,
    )
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    text = out.stdout.decode()
    head, _, rest = text.partition("\r\n\r\n")
    body, _, local_port = rest.rpartition("\n")
    headers: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body, int(local_port)


def start_example(spawn: Spawn, example: Callable[[str], list[str]], **env: str) -> Running:
    return spawn(example("haproxy_client_ip"), env={"PORT": "0", **env})


def start_haproxy(spawn: Spawn, tmp_path: Path, config: str, port: int, host: str) -> Running:
    haproxy = require_peer("haproxy")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        "global\n  log stderr format raw local0 info\n"
        "defaults\n  mode http\n  log global\n  timeout connect 10s\n"
        "  timeout client 30s\n  timeout server 30s\n" + config
    )
    check = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    r = spawn([haproxy, "-db", "-f", str(cfg)], ready=None)
    Poll.tcp_listening(port, host)
    return r


def test_curl_sends_v1_header(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    r = start_example(spawn, example)
    url = f"http://127.0.0.1:{r.port}/"
    headers, body, local_port = curl(peers, url, "--haproxy-protocol")
    assert body == "127.0.0.1\n"
    assert headers["x-client-addr"] == f"127.0.0.1:{local_port}"
    assert headers["x-proxy-version"] == "v1"
    assert headers["x-proxy-command"] == "PROXY"

    # strict: a client without a header is closed, logged at info, and the server goes on
    mark = r.line_count()
    binary = require_peer("curl")
    out = peers.run([binary, "-sS", "--max-time", "30", url], timeout=60)
    assert out.returncode != 0
    assert out.stdout == b""
    r.wait_for(r"info.*connection ended with an error.*ProxyHeaderMissingError", start=mark)
    assert curl(peers, url, "--haproxy-protocol")[1] == "127.0.0.1\n"

    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0


def test_lenient_serves_clients_without_header(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    r = start_example(spawn, example, LENIENT="1")
    url = f"http://127.0.0.1:{r.port}/"
    headers, body, local_port = curl(peers, url)
    assert body == "127.0.0.1\n"
    assert headers["x-client-addr"] == f"127.0.0.1:{local_port}"
    assert "x-proxy-version" not in headers
    headers, _, _ = curl(peers, url, "--haproxy-protocol")
    assert headers["x-proxy-version"] == "v1"


def test_behind_haproxy_send_proxy_v1_over_ipv6(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    app = start_example(spawn, example)
    front = free_port(host="::1")
    start_haproxy(
        spawn,
        tmp_path,
        f"frontend web\n  bind [::1]:{front}\n  default_backend app\n"
        f"backend app\n  server app 127.0.0.1:{app.port} send-proxy\n",
        front,
        "::1",
    )
    # the client reaches haproxy over IPv6, haproxy reaches the app over IPv4: the app must
    # report the client's ::1, not haproxy's 127.0.0.1
    headers, body, local_port = curl(peers, f"http://[::1]:{front}/", "-g")
    assert body == "::1\n"
    assert headers["x-client-addr"] == f"[::1]:{local_port}"
    assert headers["x-proxy-version"] == "v1"
    assert headers["x-proxy-peer"].startswith("127.0.0.1:")


def test_behind_haproxy_send_proxy_v2_with_tlvs(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    app = start_example(spawn, example)
    pki = make_pki(tmp_path / "pki", ["haproxy.test"])
    combined = tmp_path / "haproxy.pem"
    combined.write_bytes(pki.cert.read_bytes() + pki.key.read_bytes())
    front = free_port()
    start_haproxy(
        spawn,
        tmp_path,
        f"frontend web\n  bind 127.0.0.1:{front} ssl crt {combined} alpn http/1.1\n"
        "  unique-id-format pyrama-%rt\n  default_backend app\n"
        f"backend app\n  server app 127.0.0.1:{app.port} send-proxy-v2 "
        "proxy-v2-options ssl,ssl-cipher,cert-sig,cert-key,unique-id,authority,crc32c\n",
        front,
        "127.0.0.1",
    )
    headers, body, local_port = curl(
        peers,
        f"https://haproxy.test:{front}/",
        "--resolve",
        f"haproxy.test:{front}:127.0.0.1",
        "--cacert",
        str(pki.ca),
        "--tlsv1.3",
    )
    assert body == "127.0.0.1\n"
    assert headers["x-client-addr"] == f"127.0.0.1:{local_port}"
    assert headers["x-proxy-version"] == "v2"
    assert headers["x-proxy-command"] == "PROXY"
    tlvs = headers["x-proxy-tlvs"]
    assert "authority=haproxy.test" in tlvs
    assert re.search(r"unique-id=pyrama-\d+", tlvs), tlvs
    assert re.search(r"crc32c=[0-9a-f]{8}", tlvs), tlvs  # decode verified it
    ssl = re.search(r"ssl=TLSv1\.3,cipher=TLS_\w+,sig=([^,]+),key=([^,]+),client=(\d+)", tlvs)
    assert ssl is not None, tlvs
    assert ssl.group(1) != "-"
    assert ssl.group(2) != "-"
    assert int(ssl.group(3)) & 0x01  # PP2_CLIENT_SSL
