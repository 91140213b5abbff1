"""curl export, multipart forms and HAR recording against ``pyrama serve echo`` and real curl.

* ``to_curl`` commands run by a real shell and curl reproduce the original request exactly
  (method, target, header order and case, body), over HTTP/1.1 and h2c.
* ``pyrama send --curl`` prints a command that sends what ``pyrama send`` itself sends.
* ``pyrama send -F`` builds the same multipart parts as ``curl -F``.
* ``pyrama send --har FILE`` writes a HAR file that validates and loads back.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from itsupport import PEER_TIMEOUT, Peers, Running, Spawn

from pyrama_http.curl import to_curl
from pyrama_http.har import REDACTED, load_har
from pyrama_http_types import Request, Version
from pyrama_testing import require_peer


@pytest.fixture
def echo(spawn: Spawn, pyrama_cli: list[str]) -> Running:
    return spawn([*pyrama_cli, "serve", "echo", "--bind", "127.0.0.1:0"])


def _sh(command: str) -> bytes:
    require_peer("curl")
    out = subprocess.run(
        ["sh", "-c", command], capture_output=True, timeout=PEER_TIMEOUT, check=False
    )
    assert out.returncode == 0, (command, out.stderr.decode(errors="replace"))
    return out.stdout


def _echoed(command: str) -> dict[str, Any]:
    # curl is the last word of the pipeline's right side: silence it and fail on errors
    doc: dict[str, Any] = json.loads(_sh(command.replace("curl ", "curl -sS --fail ", 1)))
    return doc


def test_to_curl_replays_headers_order_case_and_text_body(echo: Running) -> None:
    body = 'it\'s a "test" with $dollar `ticks`\nand a second line; rm -rf /tmp/x'
    headers = [
        ("Host", f"127.0.0.1:{echo.port}"),
        ("X-MiXeD", "Case"),
        ("aaa", "first?"),
        ("User-Agent", "replay/1.0"),
        ("accept", "application/json"),
        ("Empty", ""),
        ("X-Dup", "1"),
        ("x-dup", "2"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body.encode()))),
    ]
    req = Request("PUT", "/some/path?q=1&r=%20", headers=headers, body=body)
    doc = _echoed(to_curl(req))
    assert doc["method"] == "PUT"
    assert doc["uri"] == "/some/path?q=1&r=%20"
    assert doc["version"] == "HTTP/1.1"
    assert [tuple(h) for h in doc["headers"]] == headers
    assert doc["body"] == body


def test_to_curl_replays_binary_body(echo: Running) -> None:
    data = bytes(range(256)) * 2
    headers = [
        ("Host", f"127.0.0.1:{echo.port}"),
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", str(len(data))),
    ]
    req = Request("POST", "/bin", headers=headers, body=data)
    command = to_curl(req)
    assert command.startswith("printf ")
    doc = json.loads(_sh(command.replace("| curl ", "| curl -sS --fail ", 1)))
    assert doc["body_encoding"] == "base64"
    import base64

    assert base64.b64decode(doc["body"]) == data
    assert [tuple(h) for h in doc["headers"]] == headers


def test_to_curl_h2c(echo: Running) -> None:
    headers = [("x-first", "1"), ("user-agent", "h2/1"), ("accept", "*/*"), ("x-last", "z")]
    req = Request(
        "GET", f"http://127.0.0.1:{echo.port}/h2", version=Version.HTTP_2, headers=headers
    )
    command = to_curl(req)
    assert "--http2-prior-knowledge" in command
    doc = _echoed(command)
    assert doc["version"] == "HTTP/2"
    assert [tuple(h) for h in doc["headers"]] == headers


def test_send_curl_flag_prints_what_send_sends(
    echo: Running, pyrama_cli: list[str], peers: Peers
) -> None:
    argv = [
        "-X", "PATCH", "-H", "X-MiXeD: 1", "-H", "zz: last", "--json", '{"a": 1}',
        f"http://127.0.0.1:{echo.port}/cli?x=1",
    ]  # fmt: skip
    sent = json.loads(peers.run([*pyrama_cli, "send", *argv]).stdout)
    printed = peers.run([*pyrama_cli, "send", "--curl", *argv])
    assert printed.returncode == 0, printed.stderr
    command = printed.stdout.decode()
    assert command.startswith("curl ")
    replayed = _echoed(command.strip())
    for key in ("method", "uri", "body"):
        assert replayed[key] == sent[key]

    # pyrama's driver adds Host and the length itself; everything else matches in order
    def names(doc: dict[str, Any]) -> list[tuple[str, str]]:
        return [(n, v) for n, v in doc["headers"] if n.lower() not in ("content-length",)]

    assert names(replayed) == names(sent)


def _parts(doc: dict[str, Any]) -> list[tuple[list[tuple[str, str]], bytes]]:
    ctype = next(v for n, v in doc["headers"] if n.lower() == "content-type")
    assert ctype.startswith("multipart/form-data; boundary=")
    raw = f"Content-Type: {ctype}\r\n\r\n".encode() + doc["body"].encode("utf-8")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    out = []
    for part in msg.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out.append(([(k, str(v)) for k, v in part.items()], payload))
    return out


def test_form_matches_curl(
    echo: Running, pyrama_cli: list[str], peers: Peers, tmp_path: Path
) -> None:
    curl = require_peer("curl")
    (tmp_path / "notes.txt").write_text("line one\nline two\n")
    (tmp_path / "pic.png").write_bytes(b"PNG-ish data")
    url = f"http://127.0.0.1:{echo.port}/upload"
    forms = [
        "-F", "name=value",
        "-F", "upload=@notes.txt",
        "-F", "inline=<notes.txt",
        "-F", "image=@pic.png",
        "-F", "typed=@notes.txt;type=text/x-custom",
        "-F", "renamed=@notes.txt;filename=other.txt",
    ]  # fmt: skip
    by_curl = subprocess.run(
        [curl, "-sS", "--fail", *forms, url],
        capture_output=True, cwd=tmp_path, timeout=PEER_TIMEOUT, check=True,
    )  # fmt: skip
    by_pyrama = subprocess.run(
        [*pyrama_cli, "send", "--fail", *forms, url],
        capture_output=True, cwd=tmp_path, timeout=PEER_TIMEOUT, check=True,
    )  # fmt: skip
    curl_doc = json.loads(by_curl.stdout)
    ours = json.loads(by_pyrama.stdout)
    assert ours["method"] == curl_doc["method"] == "POST"
    assert _parts(ours) == _parts(curl_doc)
    assert len(_parts(ours)) == 6


def test_har_flag_writes_a_valid_har(
    echo: Running, pyrama_cli: list[str], peers: Peers, tmp_path: Path
) -> None:
    har = tmp_path / "out.har"
    out = peers.run(
        [
            *pyrama_cli, "send", "--har", str(har),
            "-H", "Authorization: Bearer secret", "-H", "X-Keep: me",
            "-d", "a=1&b=2", f"http://127.0.0.1:{echo.port}/har?q=z",
        ]
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    log = load_har(har)
    (entry,) = log.entries
    assert entry.request.method == "POST"
    assert entry.request.url == f"http://127.0.0.1:{echo.port}/har?q=z"
    headers = {h.name: h.value for h in entry.request.headers}
    assert headers["Authorization"] == REDACTED
    assert headers["X-Keep"] == "me"
    assert entry.request.post_data is not None
    assert entry.request.post_data.text == "a=1&b=2"
    assert [(p.name, p.value) for p in entry.request.post_data.params] == [("a", "1"), ("b", "2")]
    assert entry.response.status == 200
    echoed = json.loads(entry.response.content.text or "")
    assert echoed["body"] == "a=1&b=2"
    assert entry.server_ip_address == "127.0.0.1"

    # a failed exchange is recorded too (and the exit code stays curl's)
    har2 = tmp_path / "fail.har"
    failed = peers.run([*pyrama_cli, "send", "--har", str(har2), "http://127.0.0.1:1/"])
    assert failed.returncode == 7
    (entry2,) = load_har(har2).entries
    assert entry2.response.status == 0
    assert entry2.comment
