"""ServeDir / ServeFile: paths, validators, ranges, precompression, listings, symlinks."""

from __future__ import annotations

import gzip
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import service_fn
from pyrama_core.errors import ConfigError
from pyrama_http.fs import (
    ByteRange,
    ServeDir,
    ServeFile,
    SymlinkPolicy,
    etag_matches,
    parse_range,
)
from pyrama_http_types import Request, Response, format_http_date

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    (r / "data.bin").write_bytes(DATA)
    (r / "hello.txt").write_text("hello\n")
    (r / "sub").mkdir()
    (r / "sub" / "index.html").write_text("<p>sub index</p>")
    (r / "empty").mkdir()
    (r / "a&b <c>.txt").write_text("odd name")
    (r / "%2e%2e").write_text("literal percent name")
    (tmp_path / "secret.txt").write_text("outside the root")
    return r


def get(path: str, **headers: str) -> Request:
    return Request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})


async def body(resp: Response) -> bytes:
    return await resp.body.collect()


async def test_plain_file_and_headers(root: Path) -> None:
    resp = await ServeDir(root).serve(get("/hello.txt"))
    assert resp.status == 200
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["accept-ranges"] == "bytes"
    assert re.fullmatch(r'W/"[0-9a-f]+-[0-9a-f]+"', resp.headers["etag"])
    st = os.stat(root / "hello.txt")
    assert resp.headers["last-modified"] == format_http_date(
        datetime.fromtimestamp(int(st.st_mtime), UTC)
    )
    assert "vary" not in resp.headers
    assert resp.body.size_hint == 6
    assert await body(resp) == b"hello\n"
    resp = await ServeDir(root).serve(get("/data.bin"))
    assert resp.headers["content-type"] == "application/octet-stream"
    assert await body(resp) == DATA


async def test_streams_in_chunks(root: Path) -> None:
    resp = await ServeDir(root, chunk_size=1000).serve(get("/data.bin"))
    chunks = [c async for c in resp.body]
    assert [len(c) for c in chunks] == [1000] * 10 + [240]
    assert b"".join(chunks) == DATA


async def test_head_has_length_and_no_body(root: Path) -> None:
    resp = await ServeDir(root).serve(Request("HEAD", "/data.bin"))
    assert resp.status == 200
    assert resp.headers["content-length"] == str(len(DATA))
    assert await body(resp) == b""


async def test_other_methods_405(root: Path) -> None:
    resp = await ServeDir(root).serve(Request("POST", "/hello.txt"))
    assert resp.status == 405
    assert resp.headers["allow"] == "GET, HEAD"
    assert (await ServeFile(root / "hello.txt").serve(Request("DELETE", "/"))).status == 405


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub/..%5c..%5csecret.txt",
        "/..\\secret.txt",
        "/hello.txt%00.png",
        "/%ff%fe",
        "/sub/%2e%2e/%2e%2e/secret.txt",
    ],
)
async def test_traversal_is_refused(root: Path, path: str) -> None:
    resp = await ServeDir(root).serve(get(path))
    assert resp.status == 404
    assert b"outside" not in await body(resp)


async def test_double_encoding_and_absolute_paths_stay_inside(root: Path) -> None:
    # %252e%252e decodes once to the literal name "%2e%2e": a file of that name, not a parent
    resp = await ServeDir(root).serve(get("/%252e%252e"))
    assert await body(resp) == b"literal percent name"
    assert (await ServeDir(root).serve(get("/%252e%252e/secret.txt"))).status == 404
    resp = await ServeDir(root).serve(get("//hello.txt"))
    assert await body(resp) == b"hello\n"
    secret = (root.parent / "secret.txt").as_posix()
    assert (await ServeDir(root).serve(get("/" + secret))).status == 404
    resp = await ServeDir(root).serve(get("/./sub/./index.html"))
    assert await body(resp) == b"<p>sub index</p>"


async def test_percent_encoded_names(root: Path) -> None:
    resp = await ServeDir(root).serve(get("/a%26b%20%3Cc%3E.txt"))
    assert await body(resp) == b"odd name"


async def test_directory_index_redirect_listing(root: Path) -> None:
    d = ServeDir(root)
    resp = await d.serve(get("/sub?x=1"))
    assert resp.status == 307
    assert resp.headers["location"] == "/sub/?x=1"
    resp = await d.serve(get("/sub/"))
    assert resp.headers["content-type"].startswith("text/html")
    assert await body(resp) == b"<p>sub index</p>"
    assert (await d.serve(get("/empty/"))).status == 404
    assert (await ServeDir(root, redirect_to_slash=False).serve(get("/sub"))).status == 404
    # the redirect never becomes a scheme-relative //host URL
    (root / "evil.com").mkdir()
    resp = await d.serve(get("//evil.com"))
    assert resp.headers["location"] == "/evil.com/"


async def test_listing_escapes_names(root: Path) -> None:
    d = ServeDir(root, listing=True)
    resp = await d.serve(get("/"))
    page = (await body(resp)).decode()
    assert "<title>Index of /</title>" in page
    assert 'href="a%26b%20%3Cc%3E.txt">a&amp;b &lt;c&gt;.txt</a>' in page
    assert 'href="sub/">sub/</a>' in page
    assert "../" not in page
    resp = await d.serve(get("/empty/"))
    page = (await body(resp)).decode()
    assert 'href="../"' in page
    head = await d.serve(Request("HEAD", "/empty/"))
    assert int(head.headers["content-length"]) == len(page.encode())
    assert await body(head) == b""


async def test_listing_limit(root: Path) -> None:
    for i in range(5):
        (root / "empty" / f"f{i}").write_text("x")
    page = (
        await body(await ServeDir(root, listing=True, max_listing_entries=3).serve(get("/empty/")))
    ).decode()
    assert page.count('<li><a href="f') == 3
    assert "2 more entries not shown" in page


async def test_fallback_service(root: Path) -> None:
    async def fb(req: Request) -> Response:
        return Response.text("fallback " + req.uri.path, 418)

    d = ServeDir(root, fallback=service_fn(fb))
    resp = await d.serve(get("/nope"))
    assert resp.status == 418
    assert (await d.serve(get("/../secret.txt"))).status == 418


async def test_symlinks(root: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", root / "out.txt")
    os.symlink(root / "hello.txt", root / "in.txt")
    os.symlink(root / "sub", root / "subl")
    deny = ServeDir(root, listing=True)
    assert (await deny.serve(get("/out.txt"))).status == 404
    assert (await deny.serve(get("/in.txt"))).status == 404
    assert (await deny.serve(get("/subl/index.html"))).status == 404
    page = (await body(await deny.serve(get("/")))).decode()
    assert "in.txt" not in page
    within = ServeDir(root, listing=True, symlinks=SymlinkPolicy.WITHIN_ROOT)
    assert (await within.serve(get("/out.txt"))).status == 404
    assert await body(await within.serve(get("/in.txt"))) == b"hello\n"
    assert await body(await within.serve(get("/subl/index.html"))) == b"<p>sub index</p>"
    page = (await body(await within.serve(get("/")))).decode()
    assert "in.txt" in page
    assert "out.txt" not in page


async def test_fifo_is_not_served(root: Path) -> None:
    os.mkfifo(root / "pipe")
    assert (await ServeDir(root).serve(get("/pipe"))).status == 404


async def test_single_range(root: Path) -> None:
    resp = await ServeDir(root).serve(get("/data.bin", range="bytes=10-19"))
    assert resp.status == 206
    assert resp.headers["content-range"] == f"bytes 10-19/{len(DATA)}"
    assert await body(resp) == DATA[10:20]
    resp = await ServeDir(root).serve(get("/data.bin", range="bytes=-5"))
    assert await body(resp) == DATA[-5:]
    resp = await ServeDir(root).serve(get("/data.bin", range="bytes=10200-"))
    assert resp.headers["content-range"] == f"bytes 10200-10239/{len(DATA)}"
    assert await body(resp) == DATA[10200:]
    resp = await ServeDir(root).serve(get("/data.bin", range="bytes=10230-99999"))
    assert await body(resp) == DATA[10230:]


async def test_multiple_ranges(root: Path) -> None:
    resp = await ServeDir(root).serve(get("/hello.txt", range="bytes=0-1, 3-"))
    assert resp.status == 206
    ctype = resp.headers["content-type"]
    m = re.fullmatch(r"multipart/byteranges; boundary=(\w+)", ctype)
    assert m is not None
    b = m.group(1)
    raw = await body(resp)
    assert resp.body.size_hint == len(raw)
    assert (
        raw
        == (
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes 0-1/6\r\n\r\n"
            f"he\r\n--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes 3-5/6\r\n\r\nlo\n\r\n--{b}--\r\n"
        ).encode()
    )


async def test_unsatisfiable_and_ignored_ranges(root: Path) -> None:
    resp = await ServeDir(root).serve(get("/hello.txt", range="bytes=6-10"))
    assert resp.status == 416
    assert resp.headers["content-range"] == "bytes */6"
    for bad in ("bytes=5-1", "items=0-1", "bytes=x-1", "bytes=-"):
        resp = await ServeDir(root).serve(get("/hello.txt", range=bad))
        assert resp.status == 200, bad
        assert await body(resp) == b"hello\n"
    # more ranges than allowed: the whole file
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(5))
    resp = await ServeDir(root, max_ranges=4).serve(get("/hello.txt", range=many))
    assert resp.status == 200
    resp = await ServeDir(root, max_ranges=5).serve(get("/hello.txt", range=many))
    assert resp.status == 206
    # HEAD ignores Range
    resp = await ServeDir(root).serve(Request("HEAD", "/hello.txt", headers={"Range": "bytes=0-1"}))
    assert resp.status == 200


async def test_conditional_requests(root: Path) -> None:
    d = ServeDir(root)
    first = await d.serve(get("/hello.txt"))
    etag = first.headers["etag"]
    lm = first.headers["last-modified"]
    resp = await d.serve(get("/hello.txt", if_none_match=etag))
    assert resp.status == 304
    assert resp.headers["etag"] == etag
    assert await body(resp) == b""
    resp = await d.serve(get("/hello.txt", if_none_match=f'"x", {etag.removeprefix("W/")}'))
    assert resp.status == 304  # weak comparison
    assert (await d.serve(get("/hello.txt", if_none_match='"other"'))).status == 200
    assert (await d.serve(get("/hello.txt", if_none_match="*"))).status == 304
    assert (await d.serve(get("/hello.txt", if_modified_since=lm))).status == 304
    older = format_http_date(datetime.now(UTC) - timedelta(days=400))
    assert (await d.serve(get("/hello.txt", if_modified_since=older))).status == 200
    assert (await d.serve(get("/hello.txt", if_modified_since="garbage"))).status == 200
    # If-None-Match wins over If-Modified-Since
    resp = await d.serve(get("/hello.txt", if_none_match='"other"', if_modified_since=lm))
    assert resp.status == 200
    # If-Match uses the strong comparison: our weak tag never matches, '*' does
    assert (await d.serve(get("/hello.txt", if_match=etag))).status == 412
    assert (await d.serve(get("/hello.txt", if_match="*"))).status == 200
    assert (await d.serve(get("/hello.txt", if_unmodified_since=older))).status == 412
    assert (await d.serve(get("/hello.txt", if_unmodified_since=lm))).status == 200


async def test_if_range(root: Path) -> None:
    d = ServeDir(root)
    first = await d.serve(get("/hello.txt"))
    lm = first.headers["last-modified"]
    resp = await d.serve(get("/hello.txt", range="bytes=0-1", if_range=lm))
    assert resp.status == 206
    older = format_http_date(datetime.now(UTC) - timedelta(days=400))
    resp = await d.serve(get("/hello.txt", range="bytes=0-1", if_range=older))
    assert resp.status == 200
    resp = await d.serve(get("/hello.txt", range="bytes=0-1", if_range=first.headers["etag"]))
    assert resp.status == 200  # a weak tag is never good enough for If-Range
    assert await body(resp) == b"hello\n"


async def test_precompressed_variants(root: Path) -> None:
    (root / "hello.txt.gz").write_bytes(gzip.compress(b"hello\n"))
    (root / "hello.txt.br").write_bytes(b"fake-br")
    d = ServeDir(root, precompressed=("br", "zstd", "gzip"))
    resp = await d.serve(get("/hello.txt", accept_encoding="gzip, br"))
    assert resp.headers["content-encoding"] == "br"
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["vary"] == "Accept-Encoding"
    assert await body(resp) == b"fake-br"
    resp = await d.serve(get("/hello.txt", accept_encoding="gzip;q=1, br;q=0.5"))
    assert resp.headers["content-encoding"] == "gzip"
    assert gzip.decompress(await body(resp)) == b"hello\n"
    resp = await d.serve(get("/hello.txt", accept_encoding="zstd"))
    assert "content-encoding" not in resp.headers  # no .zst sibling
    assert resp.headers["vary"] == "Accept-Encoding"
    assert await body(resp) == b"hello\n"
    resp = await d.serve(get("/hello.txt", accept_encoding="*, br;q=0"))
    assert resp.headers["content-encoding"] == "gzip"
    resp = await d.serve(get("/hello.txt"))
    assert await body(resp) == b"hello\n"
    # switched off: the sibling is ignored
    resp = await ServeDir(root).serve(get("/hello.txt", accept_encoding="br"))
    assert "content-encoding" not in resp.headers
    with pytest.raises(ConfigError):
        ServeDir(root, precompressed=("deflate",))


async def test_serve_file(root: Path) -> None:
    f = ServeFile(root / "data.bin", content_type="application/x-test")
    resp = await f.serve(get("/anything/at/all", range="bytes=0-3"))
    assert resp.status == 206
    assert resp.headers["content-type"] == "application/x-test"
    assert await body(resp) == DATA[:4]
    assert (await ServeFile(root / "missing").serve(get("/"))).status == 404
    assert (await ServeFile(root / "sub").serve(get("/"))).status == 404


async def test_unread_body_closes_the_file(root: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        resp = await ServeDir(root).serve(get("/data.bin"))
        await resp.body.aclose()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_config_errors(root: Path) -> None:
    with pytest.raises(ConfigError):
        ServeDir(root / "hello.txt")
    with pytest.raises(ConfigError):
        ServeDir(root, index_files=("../x",))
    with pytest.raises(ConfigError):
        ServeDir(root, chunk_size=0)
    with pytest.raises(ConfigError):
        ServeDir(root, max_ranges=0)


def test_etag_comparison() -> None:
    assert etag_matches('"a", W/"b"', 'W/"b"', strong=False)
    assert not etag_matches('"a", W/"b"', 'W/"b"', strong=True)
    assert etag_matches('"a"', '"a"', strong=True)
    assert not etag_matches("garbage", '"a"', strong=False)


@given(st.text(max_size=40), st.integers(0, 1000))
def test_parse_range_never_crashes_and_stays_in_bounds(value: str, size: int) -> None:
    got = parse_range("bytes=" + value, size, 16)
    if got:
        for r in got:
            assert isinstance(r, ByteRange)
            assert 0 <= r.start <= r.end < size


def test_parse_range_examples() -> None:
    assert parse_range("bytes=0-0,-1", 10, 16) == [ByteRange(0, 0), ByteRange(9, 9)]
    assert parse_range("bytes=0-", 0, 16) == []
    assert parse_range("bytes=, 1-2", 10, 16) == [ByteRange(1, 2)]
    assert parse_range("bytes=", 10, 16) is None


_path_chars = st.sampled_from(["/", ".", "..", "%2e", "%2f", "%5c", "\\", "%00", "a", "%25", "%ff"])


@given(st.lists(_path_chars, max_size=12).map("".join))
def test_path_segments_never_escape(raw: str) -> None:
    from pyrama_http.fs._serve import _segments_of

    parts = _segments_of("/" + raw)
    if parts is None:
        return
    for part in parts:
        assert part not in ("", ".", "..")
        assert "/" not in part
        assert "\\" not in part
        assert "\0" not in part
    joined = os.path.normpath(os.path.join("/root", *parts))
    assert joined == "/root" or joined.startswith("/root/")


def test_huge_range_numbers_are_ignored() -> None:
    assert parse_range("bytes=" + "9" * 5000 + "-", 10, 16) is None
    assert parse_range("bytes=0-" + "9" * 19, 10, 16) == [ByteRange(0, 9)]
