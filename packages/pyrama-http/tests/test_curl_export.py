"""to_curl and MultipartForm: commands and bodies checked by parsing them back."""

from __future__ import annotations

import email.parser
import email.policy
import shlex
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pyrama_core import Extensions
from pyrama_http.curl import (
    DEFAULT_CURL_MAX_BODY,
    CurlExportError,
    MultipartForm,
    MultipartFormError,
    guess_content_type,
    to_curl,
)
from pyrama_http_types import Body, Request, Version


def _args(command: str) -> list[str]:
    while command.startswith("# note:"):
        command = command.split("\n", 1)[1]
    return shlex.split(command.replace(" \\\n  ", " "))


def test_get_with_ordered_headers() -> None:
    req = Request(
        "GET",
        "http://example.com/a?b=1",
        headers=[("Host", "example.com"), ("X-MiXeD", "1"), ("aaa", ""), ("Accept", "*/*")],
    )
    args = _args(to_curl(req))
    assert args == [
        "curl", "--http1.1", "-H", "User-Agent:",
        "-H", "Host: example.com", "-H", "X-MiXeD: 1", "-H", "aaa;", "-H", "Accept: */*",
        "http://example.com/a?b=1",
    ]  # fmt: skip


def test_origin_form_uses_host_and_scheme() -> None:
    req = Request("DELETE", "/x", headers=[("Host", "h:8080"), ("User-Agent", "ua")])
    args = _args(to_curl(req, scheme="https"))
    assert args[-1] == "https://h:8080/x"
    assert args[args.index("-X") + 1] == "DELETE"
    with pytest.raises(CurlExportError):
        to_curl(Request("GET", "/nohost"))


def test_version_flags_and_head() -> None:
    h2c = Request("GET", "http://h/", version=Version.HTTP_2)
    assert "--http2-prior-knowledge" in _args(to_curl(h2c))
    h2 = Request("HEAD", "https://h/", version=Version.HTTP_2)
    args = _args(to_curl(h2))
    assert "--http2" in args
    assert "--head" in args
    assert "-X" not in args
    assert "--http1.0" in _args(to_curl(Request("GET", "http://h/", version=Version.HTTP_10)))


def test_text_body_is_shell_quoted_and_kept_in_the_request() -> None:
    body = 'it\'s $HOME `x` "q"\nline2 ; rm -rf /'
    req = Request("PUT", "http://h/p", headers=[("Content-Type", "text/plain")], body=body)
    args = _args(to_curl(req))
    assert args[args.index("--data-binary") + 1] == body
    assert args[args.index("-X") + 1] == "PUT"
    assert "Content-Type:" not in args  # the request has its own
    assert "Expect:" in args
    assert req.body.is_in_memory
    assert not req.body.is_consumed


def test_at_sign_body_is_raw_data() -> None:
    args = _args(to_curl(Request("POST", "http://h/", body="@/etc/passwd")))
    assert args[args.index("--data-raw") + 1] == "@/etc/passwd"
    assert "-X" not in args


def test_binary_body_is_piped_through_printf() -> None:
    data = bytes(range(256)) + b"%s%%\\"
    command = to_curl(Request("POST", "http://h/", body=data))
    assert command.startswith("printf ")
    fmt_cmd, _, curl_cmd = command.partition(" | ")
    assert "@-" in shlex.split(curl_cmd)
    out = subprocess.run(["sh", "-c", fmt_cmd], capture_output=True, check=True).stdout
    assert out == data


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200))
@example(b"-\x00")  # a leading "-" is not an option to printf
@example(b"--help\xff")
def test_printf_pipe_reproduces_any_bytes(data: bytes) -> None:
    command = to_curl(Request("POST", "http://h/", body=data))
    if not data:
        assert "--data-binary" not in command
        return
    if command.startswith("printf "):
        fmt_cmd = command.partition(" | ")[0]
        out = subprocess.run(["sh", "-c", fmt_cmd], capture_output=True, check=True).stdout
        assert out == data
    else:
        args = _args(command)
        flag = "--data-raw" if "--data-raw" in args else "--data-binary"
        assert args[args.index(flag) + 1].encode("utf-8") == data


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
def test_header_values_survive_quoting(value: str) -> None:
    value = value.strip()
    req = Request("GET", "http://h/", headers=[("X-V", value)])
    args = _args(to_curl(req))
    expect = "X-V;" if value == "" else f"X-V: {value}"
    assert expect in args


def test_limits_and_streams_are_noted() -> None:
    big = b"x" * (DEFAULT_CURL_MAX_BODY + 1)
    command = to_curl(Request("POST", "http://h/", body=big))
    assert command.startswith("# note: the body (65537 bytes) is over max_body")
    assert "--data-binary" not in command
    assert "--data-binary" in to_curl(Request("POST", "http://h/", body=b"abc"), max_body=3)

    async def gen() -> AsyncIterator[bytes]:
        yield b"x"

    streaming = Request("POST", "http://h/", body=Body.from_iter(gen()))
    assert "cannot be replayed" in to_curl(streaming)
    assert "--data-binary" in to_curl(streaming, body=b"given")
    with pytest.raises(ValueError, match="max_body"):
        to_curl(streaming, max_body=-1)


def test_globs_dot_segments_and_host_position() -> None:
    args = _args(to_curl(Request("GET", "http://h/a/../b[1]")))
    assert "--globoff" in args
    assert "--path-as-is" in args
    late_host = Request("GET", "/", headers=[("X", "1"), ("Host", "h")], extensions=Extensions())
    assert "Host first" in to_curl(late_host)


def test_multiline() -> None:
    command = to_curl(Request("POST", "http://h/", body="a b"), multiline=True)
    assert " \\\n  " in command
    assert _args(command) == _args(to_curl(Request("POST", "http://h/", body="a b")))


# -- multipart ------------------------------------------------------------------------------


def _parse(form: MultipartForm) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type, data) of each part, parsed by the stdlib's email parser.

    (Like curl and browsers, names escape only '"', CR and LF; a backslash is sent as is.)
    """
    raw = f"Content-Type: {form.content_type}\r\n\r\n".encode() + form.encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    out: list[tuple[str, str | None, str | None, bytes]] = []
    for part in msg.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        ctype = part["Content-Type"]
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        out.append((name, part.get_filename(), None if ctype is None else str(ctype), payload))
    return out


def test_multipart_fields_and_files(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_bytes(b"file\r\ncontent\x00")
    form = MultipartForm(boundary="XyZ")
    form.add_curl_spec("name=value")
    form.add_curl_spec(f"upload=@{f}")
    form.add_curl_spec(f"inline=<{f};type=text/x-custom")
    form.add_curl_spec(f"renamed=@{f};filename=other.png")
    form.add_curl_spec("typed=a;b;type=application/json")
    assert form.content_type == "multipart/form-data; boundary=XyZ"
    assert _parse(form) == [
        ("name", None, None, b"value"),
        ("upload", "notes.txt", "text/plain", b"file\r\ncontent\x00"),
        ("inline", None, "text/x-custom", b"file\r\ncontent\x00"),
        ("renamed", "other.png", "image/png", b"file\r\ncontent\x00"),
        ("typed", None, "application/json", b"a;b"),
    ]
    assert form.encode().endswith(b"--XyZ--\r\n")


def test_multipart_errors_and_types(tmp_path: Path) -> None:
    form = MultipartForm()
    assert form.boundary.startswith("-" * 24)
    assert len(form.boundary) == 40
    with pytest.raises(MultipartFormError):
        form.add_curl_spec("novalue")
    with pytest.raises(MultipartFormError):
        form.add_curl_spec(f"f=@{tmp_path / 'missing'}")
    with pytest.raises(MultipartFormError):
        MultipartForm(boundary="bad\r\n")
    assert guess_content_type("a.JPG") == "image/jpeg"
    assert guess_content_type("a.bin") == "application/octet-stream"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(
                st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"%;=\\'),
                min_size=1,
                max_size=10,
            ),
            st.binary(max_size=50),
        ),
        max_size=5,
    )
)
def test_multipart_round_trip(fields: list[tuple[str, bytes]]) -> None:
    form = MultipartForm()
    for name, data in fields:
        form.add_file(name, data, filename="f.bin")
    parsed = _parse(form)
    assert [(p[0], p[3]) for p in parsed] == fields


def test_proxy_extension_becomes_proxy_flags() -> None:
    from pyrama_net import ProxyAddress

    req = Request("GET", "http://h/")
    req.extensions.insert(ProxyAddress.parse("http://user:p%40ss@127.0.0.1:3128"))
    args = _args(to_curl(req))
    assert args[args.index("--proxy") + 1] == "http://127.0.0.1:3128"
    assert args[args.index("--proxy-user") + 1] == "user:p@ss"
    args = _args(to_curl(Request("GET", "http://h/"), proxy="socks5h://127.0.0.1:1080"))
    assert args[args.index("--proxy") + 1] == "socks5h://127.0.0.1:1080"
    assert "--proxy" not in _args(to_curl(Request("GET", "http://h/")))
