from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_types import Method, StatusCode, Version
from pyrama_http_types.errors import (
    InvalidMethodError,
    InvalidStatusCodeError,
    InvalidVersionError,
)

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_method_constants_and_properties() -> None:
    assert Method("GET") is Method.GET
    assert Method(b"POST") is Method.POST
    assert Method.GET == "GET"
    assert Method("get") != Method.GET
    assert Method.GET.is_safe
    assert Method.GET.is_idempotent
    assert Method.QUERY.is_safe
    assert not Method.POST.is_safe
    assert not Method.POST.is_idempotent
    assert Method.PUT.is_idempotent
    assert not Method.PUT.is_safe
    assert Method.DELETE.is_idempotent
    assert not Method.PATCH.is_idempotent
    purge = Method("PURGE")
    assert not purge.is_known
    assert not purge.is_safe
    assert purge.as_bytes() == b"PURGE"
    assert str(purge) == "PURGE"
    assert repr(purge) == "Method('PURGE')"
    assert type(str(purge)) is str


@pytest.mark.parametrize("bad", ["", "GE T", "GET\r\n", "G(E)T", "caf\xe9", b"\xff"])
def test_method_rejects_non_tokens(bad: str | bytes) -> None:
    with pytest.raises(InvalidMethodError):
        Method(bad)


@given(st.text(alphabet=TOKEN, min_size=1, max_size=12))
def test_method_accepts_every_token(text: str) -> None:
    m = Method(text)
    assert m == text
    assert Method(text.encode()) == m


@given(st.text(max_size=8))
def test_method_validation_matches_token_rule(text: str) -> None:
    if text and all(c in TOKEN for c in text):
        assert Method(text) == text
    else:
        with pytest.raises(InvalidMethodError):
            Method(text)


def test_status_code_basics() -> None:
    assert StatusCode(404) is StatusCode.NOT_FOUND
    assert StatusCode.NOT_FOUND.reason_phrase == "Not Found"
    assert StatusCode.CONTENT_TOO_LARGE == 413
    assert StatusCode(b"200") is StatusCode.OK
    assert StatusCode("503").is_server_error
    custom = StatusCode(299)
    assert custom.reason_phrase == ""
    assert custom.canonical_reason is None
    assert custom.is_success
    assert StatusCode(999) == 999
    assert StatusCode.CONTINUE.is_informational
    assert StatusCode.FOUND.is_redirection
    assert StatusCode.IM_A_TEAPOT.is_client_error
    assert StatusCode.IM_A_TEAPOT.is_error
    assert not StatusCode.NO_CONTENT.allows_body
    assert not StatusCode.NOT_MODIFIED.allows_body
    assert not StatusCode.CONTINUE.allows_body
    assert StatusCode.OK.allows_body
    assert StatusCode.OK.as_bytes() == b"200"
    assert str(StatusCode.OK) == "200"
    assert repr(StatusCode.OK) == "StatusCode(200)"


@pytest.mark.parametrize("bad", [99, 1000, -1, 0, "20", "2000", "abc", " 20", "+20"])
def test_status_code_rejects(bad: int | str) -> None:
    with pytest.raises(InvalidStatusCodeError):
        StatusCode(bad)


def test_status_code_rejects_bool() -> None:
    with pytest.raises(TypeError):
        StatusCode(True)


@given(st.integers(min_value=-2000, max_value=2000))
def test_status_code_range(code: int) -> None:
    if 100 <= code <= 999:
        s = StatusCode(code)
        assert s == code
        assert StatusCode(str(code)) == s
        classes = [
            s.is_informational,
            s.is_success,
            s.is_redirection,
            s.is_client_error,
            s.is_server_error,
        ]
        assert sum(classes) == (1 if code < 600 else 0)
    else:
        with pytest.raises(InvalidStatusCodeError):
            StatusCode(code)


def test_version() -> None:
    assert str(Version.HTTP_11) == "HTTP/1.1"
    assert Version.parse("HTTP/1.0") is Version.HTTP_10
    assert Version.parse(b"HTTP/2.0") is Version.HTTP_2
    assert Version.parse("HTTP/2") is Version.HTTP_2
    assert Version.HTTP_2.alpn == b"h2"
    assert Version.HTTP_3.alpn_str == "h3"
    assert Version.HTTP_11.alpn == b"http/1.1"
    assert Version.from_alpn("h2") is Version.HTTP_2
    assert Version.from_alpn(b"http/1.0") is Version.HTTP_10
    assert Version.HTTP_10 < Version.HTTP_11 < Version.HTTP_2 < Version.HTTP_3
    assert Version.HTTP_09 <= Version.HTTP_09
    assert Version.HTTP_3 >= Version.HTTP_2 > Version.HTTP_11
    assert Version.HTTP_11.is_http1
    assert not Version.HTTP_2.is_http1
    assert (Version.HTTP_11.major, Version.HTTP_11.minor) == (1, 1)
    assert Version.HTTP_11.as_bytes() == b"HTTP/1.1"
    for bad in ("http/1.1", "HTTP/1.2", "HTTP/1", ""):
        with pytest.raises(InvalidVersionError) as exc:
            Version.parse(bad)
        assert exc.value.status_hint == 505
    with pytest.raises(InvalidVersionError):
        Version.from_alpn("spdy/3")
