"""Date and Server fields of HTTP/1.1 responses; the request target and method caches."""

from __future__ import annotations

import asyncio
import re
import time
from email.utils import formatdate, parsedate_to_datetime

import pytest

from pyrama_core import service_fn
from pyrama_core.errors import ConfigError
from pyrama_http_core import H11ServerCodec, Http1Config, _codec_write, _targets, serve_http1
from pyrama_http_core._codec_write import http_date
from pyrama_http_core._targets import request_method, request_uri
from pyrama_http_types import Method, Request, Response
from pyrama_http_types.errors import InvalidMethodError, InvalidUriError
from pyrama_testing import mock_stream_pair

GUARD = 10.0
IMF_FIXDATE = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT"
)


def fields(head: bytes) -> list[tuple[bytes, bytes]]:
    lines = head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    return [tuple(line.split(b": ", 1)) for line in lines]  # type: ignore[misc]


def values(head: bytes, name: bytes) -> list[bytes]:
    return [v for n, v in fields(head) if n.lower() == name]


async def roundtrip(
    handler_response: Response, config: Http1Config | None, request: bytes
) -> bytes:
    async def handler(req: Request) -> Response:
        return handler_response

    server_side, client_side = mock_stream_pair()
    task = asyncio.create_task(serve_http1(server_side, service_fn(handler), config))
    client_side.write(request)
    client_side.write_eof()
    out = bytearray()
    while chunk := await asyncio.wait_for(client_side.read(65536), GUARD):
        out += chunk
    await asyncio.wait_for(task, GUARD)
    return bytes(out)


GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


# -- http_date --------------------------------------------------------------------------------


def test_http_date_is_an_imf_fixdate() -> None:
    value = http_date()
    assert IMF_FIXDATE.fullmatch(value), value
    assert parsedate_to_datetime(value.decode()).tzinfo is not None


def test_http_date_formats_once_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [784111777.25]
    formatted: list[float] = []
    real = formatdate

    def counting(timeval: float, *, usegmt: bool) -> str:
        formatted.append(timeval)
        return real(timeval, usegmt=usegmt)

    monkeypatch.setattr(_codec_write, "formatdate", counting)
    monkeypatch.setattr(time, "time", lambda: clock[0])
    first = http_date()
    assert first == b"Sun, 06 Nov 1994 08:49:37 GMT"
    clock[0] = 784111777.9
    assert http_date() is first  # same second: the cached value
    clock[0] = 784111778.0
    assert http_date() == b"Sun, 06 Nov 1994 08:49:38 GMT"
    assert len(formatted) == 2


# -- the writer -------------------------------------------------------------------------------


def _codec_after(request: bytes) -> H11ServerCodec:
    c = H11ServerCodec()
    c.receive(request)
    c.next_event()
    c.next_event()
    return c


def test_writer_adds_date_and_server_only_when_missing() -> None:
    c = _codec_after(GET)
    out = c.send_response(200, [(b"X-A", b"1")], content_length=0, date=b"D1", server=b"S1")
    assert fields(out) == [
        (b"X-A", b"1"),
        (b"content-length", b"0"),
        (b"date", b"D1"),
        (b"server", b"S1"),
    ]
    c = _codec_after(GET)
    own = [(b"Date", b"mine"), (b"SERVER", b"me")]
    out = c.send_response(200, own, content_length=0, date=b"D1", server=b"S1")
    assert fields(out) == [*own, (b"content-length", b"0")]
    c = _codec_after(GET)
    out = c.send_response(200, [], content_length=0)
    assert fields(out) == [(b"content-length", b"0")]


def test_writer_gives_a_tunnel_no_date() -> None:
    c = _codec_after(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")
    assert c.send_response(200, [], date=b"D1", server=b"S1") == b"HTTP/1.1 200 OK\r\n\r\n"


# -- the driver -------------------------------------------------------------------------------


async def test_responses_carry_a_date_by_default() -> None:
    out = await roundtrip(Response.text("hi"), None, GET)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    (date,) = values(out, b"date")
    assert IMF_FIXDATE.fullmatch(date)
    assert values(out, b"server") == []
    assert out.endswith(b"\r\n\r\nhi")


async def test_error_answers_carry_a_date() -> None:
    out = await roundtrip(Response.text("never"), None, b"GET / HTTP/1.1\r\n\r\n")  # no Host
    assert out.startswith(b"HTTP/1.1 400 ")
    assert len(values(out, b"date")) == 1


async def test_a_date_of_the_service_is_kept() -> None:
    resp = Response.text("hi", headers={"Date": "Tue, 15 Nov 1994 08:12:31 GMT"})
    out = await roundtrip(resp, None, GET)
    assert values(out, b"date") == [b"Tue, 15 Nov 1994 08:12:31 GMT"]


async def test_date_header_off_and_server_header_on() -> None:
    cfg = Http1Config(date_header=False, server_header="pyrama/1 (test)")
    out = await roundtrip(Response.text("hi"), cfg, GET)
    assert values(out, b"date") == []
    assert values(out, b"server") == [b"pyrama/1 (test)"]
    resp = Response.text("hi", headers={"Server": "theirs"})
    out = await roundtrip(resp, cfg, GET)
    assert values(out, b"server") == [b"theirs"]


@pytest.mark.parametrize(
    "bad", ["a\r\nX-Injected: 1", "", "  ", "tab\there", "\u20ac", b"bytes", 1]
)
def test_server_header_is_validated(bad: object) -> None:
    with pytest.raises(ConfigError):
        Http1Config(server_header=bad)  # type: ignore[arg-type]


def test_date_header_must_be_a_bool() -> None:
    with pytest.raises(ConfigError):
        Http1Config(date_header="yes")  # type: ignore[arg-type]


# -- target and method caches ------------------------------------------------------------------


def test_request_uri_reuses_short_targets_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_targets, "_URIS", {})
    a = request_uri(b"/cached?x=1")
    assert request_uri(b"/cached?x=1") is a
    assert a.path == "/cached"
    assert a.query == "x=1"
    long_target = b"/" + b"a" * 300
    assert request_uri(long_target) is not request_uri(long_target)
    assert long_target not in _targets._URIS
    with pytest.raises(InvalidUriError):
        request_uri(b"/has space")


def test_request_uri_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_targets, "_URIS", {})
    monkeypatch.setattr(_targets, "_URIS_MAX", 4)
    for i in range(10):
        request_uri(b"/%d" % i)
        assert len(_targets._URIS) <= 4


def test_request_method_keeps_only_known_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_targets, "_METHODS", {})
    assert request_method(b"GET") is Method.GET
    assert request_method(b"GET") is Method.GET
    custom = request_method(b"PURGE")
    assert custom == "PURGE"
    assert not custom.is_known
    assert set(_targets._METHODS) == {b"GET"}
    with pytest.raises(InvalidMethodError):
        request_method(b"BAD METHOD")
