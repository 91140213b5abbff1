"""examples/proxy_db_upstream.py: curl through it to upstreams picked by username labels."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from itsupport import PEER_TIMEOUT, Running, Spawn

from pyrama_testing import require_peer

PROXY_READY = r"(?i)listening.*?address=(?P<host>127\.0\.0\.1):(?P<port>\d+)"


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    """curl with a hang guard."""
    return subprocess.run(
        [require_peer("curl"), "-sS", "--max-time", "15", *args],
        capture_output=True,
        timeout=PEER_TIMEOUT,
        check=False,
    )


def opened(proxy: Running) -> int:
    """How many connections an upstream ``pyrama serve proxy -v`` has logged."""
    return len(re.findall(r"connection opened", proxy.output()))


def test_upstream_chosen_by_labels_and_reloaded(
    spawn: Spawn,
    example: Callable[[str], list[str]],
    pyrama_cli: list[str],
    tmp_path: Path,
) -> None:
    origin = spawn([*pyrama_cli, "serve", "echo", "--bind", "127.0.0.1:0"])
    us = spawn([*pyrama_cli, "serve", "proxy", "127.0.0.1:0", "-v"], ready=PROXY_READY)
    de = spawn(
        [*pyrama_cli, "serve", "proxy", "127.0.0.1:0", "--socks5", "--auth", "u:p", "-v"],
        ready=PROXY_READY,
    )
    db = tmp_path / "proxies.csv"
    db.write_text(
        "id,address,http,socks5h,residential,country,city\n"
        f"us-1,http://127.0.0.1:{us.port},true,false,true,US,New York\n"
        f"de-1,socks5h://u:p@127.0.0.1:{de.port},false,true,false,de,Berlin\n"
    )
    proxy = spawn([*example("proxy_db_upstream"), "0"], env={"PROXY_DB": str(db)})
    assert "proxies=2" in proxy.output()
    via = f"127.0.0.1:{proxy.port}"
    url = f"http://127.0.0.1:{origin.port}/through"

    # the pseudo API shows the choice
    api = curl("-x", f"http://john-country-de:secret@{via}", "http://upstream.example.internal/")
    assert json.loads(api.stdout)["upstream"] == "de-1", api.stderr
    api = curl("-x", f"http://john-city-new_york:secret@{via}", "http://upstream.example.internal/")
    assert json.loads(api.stdout)["upstream"] == "us-1"

    # absolute-form through the HTTP upstream, a CONNECT tunnel through the SOCKS5 one
    us_before, de_before = opened(us), opened(de)
    out = curl("-x", f"http://john-country-us-residential:secret@{via}", url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == "/through"
    us.wait_for(r"connection opened", start=0)
    assert opened(us) > us_before
    out = curl("-p", "-x", f"http://john-country-de:secret@{via}", url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == "/through"
    assert opened(de) > de_before
    assert proxy.wait_for(r"proxy request.*upstream=us-1")

    status = ["-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(*status, "-x", f"http://john-country-fr:secret@{via}", url).stdout == b"503"
    assert curl(*status, "-x", f"http://john-country-us:nope@{via}", url).stdout == b"407"
    assert curl(*status, "-x", f"http://john-countri-us:secret@{via}", url).stdout == b"407"

    # live reload: de-1 moves to France; a broken file keeps the list
    mark = proxy.line_count()
    db.write_text(f"id,address,socks5h,country\nfr-1,socks5h://u:p@127.0.0.1:{de.port},true,fr\n")
    proxy.signal(signal.SIGHUP)
    proxy.wait_for(r"proxy list reloaded.*proxies=1", start=mark)
    api = curl("-x", f"http://john-country-fr:secret@{via}", "http://upstream.example.internal/")
    assert json.loads(api.stdout)["upstream"] == "fr-1"
    assert curl(*status, "-x", f"http://john-country-de:secret@{via}", url).stdout == b"503"
    mark = proxy.line_count()
    db.write_text("id,address\nbroken,not a proxy\n")
    proxy.signal(signal.SIGHUP)
    proxy.wait_for(r"proxy list not reloaded.*line 2", start=mark)
    api = curl("-x", f"http://john:secret@{via}", "http://upstream.example.internal/")
    assert json.loads(api.stdout)["upstream"] == "fr-1"
