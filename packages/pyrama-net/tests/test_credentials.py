import base64

import pytest

from pyrama_net import Basic, Bearer
from pyrama_net.errors import AddressError


def test_basic_header_value() -> None:
    b = Basic("user", "pass")
    assert b.encode_header_value() == "Basic dXNlcjpwYXNz"
    assert Basic.parse_header_value("Basic dXNlcjpwYXNz") == b
    assert Basic.parse_header_value("basic  dXNlcjpwYXNz") == b  # scheme any case, 1*SP


def test_basic_utf8_and_colons_in_password() -> None:
    b = Basic("jürgen", "a:b:c")
    value = b.encode_header_value()
    assert value == "Basic " + base64.b64encode("jürgen:a:b:c".encode()).decode()
    assert Basic.parse_header_value(value) == b


def test_basic_empty_parts() -> None:
    assert Basic.parse_header_value("Basic Og==") == Basic("", "")
    assert Basic("user").password == ""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Bearer dXNlcjpwYXNz", "expected a Basic"),
        ("Basic", "expected a Basic"),
        ("Basic ", "empty"),
        ("Basicx dXNlcjpwYXNz", "expected a Basic"),
        ("Basic\tdXNlcjpwYXNz", "expected a Basic"),
        ("Basic dXNlcjpwYXN", "base64"),  # bad length
        ("Basic dXNlcjpwYXNz=", "base64"),
        ("Basic dXNl cjpw", "base64"),
        ("Basic dXNlcjpwYXNz ", "base64"),
        ("Basic ====", "padding"),
        ("Basic dXNlcjpwYXM-", "base64"),  # url-safe alphabet
        ("Basic dXNlcjpwYXN=", "canonical"),  # non-zero padding bits
        ("Basic " + _b64(b"userpass"), "no ':'"),
        ("Basic " + _b64(b"user:\xff"), "UTF-8"),
        ("Basic " + _b64(b"user:pa\x00ss"), "control"),
        ("Basic " + _b64(b"us\ner:pass"), "control"),
    ],
)
def test_basic_rejects(value: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        Basic.parse_header_value(value)


def test_basic_constructor_rules() -> None:
    with pytest.raises(AddressError, match="':'"):
        Basic("us:er", "x")
    with pytest.raises(AddressError, match="control"):
        Basic("user", "pa\x7fss")
    with pytest.raises(AddressError, match="str"):
        Basic("user", None)  # type: ignore[arg-type]


def test_basic_clear_text_form() -> None:
    b = Basic.parse("user:pa:ss")
    assert b == Basic("user", "pa:ss")
    assert b.as_user_pass() == "user:pa:ss"
    assert Basic.parse(b.as_user_pass()) == b
    with pytest.raises(AddressError, match="no ':'"):
        Basic.parse("userpass")


def test_basic_repr_and_str_redact_the_password() -> None:
    b = Basic("alice", "hunter2")
    assert "hunter2" not in repr(b)
    assert "hunter2" not in str(b)
    assert "hunter2" not in f"{b}"
    assert "alice" in repr(b)


def test_basic_errors_do_not_leak_the_secret() -> None:
    with pytest.raises(AddressError) as info:
        Basic.parse_header_value("Basic " + _b64(b"alice:hunter2\x00"))
    assert "hunter2" not in str(info.value)


def test_basic_matches() -> None:
    assert Basic("a", "b").matches(Basic("a", "b"))
    assert not Basic("a", "b").matches(Basic("a", "c"))
    assert {Basic("a", "b"), Basic("a", "b")} == {Basic("a", "b")}


def test_bearer() -> None:
    t = Bearer("abc.DEF-_~+/123==")
    assert t.encode_header_value() == "Bearer abc.DEF-_~+/123=="
    assert Bearer.parse_header_value("bearer abc.DEF-_~+/123==") == t
    assert Bearer.parse("xyz") == Bearer("xyz")
    assert t.matches(Bearer("abc.DEF-_~+/123=="))
    assert not t.matches(Bearer("other"))


@pytest.mark.parametrize("token", ["", "=", "ab=c", "a b", "a\x00", "tök", "a,b", '"ab"', "ab=\n"])
def test_bearer_rejects_non_token68(token: str) -> None:
    with pytest.raises(AddressError, match="token68"):
        Bearer(token)


def test_bearer_header_rejects() -> None:
    with pytest.raises(AddressError, match="expected a Bearer"):
        Bearer.parse_header_value("Basic abc")
    with pytest.raises(AddressError, match="empty"):
        Bearer.parse_header_value("Bearer ")
    with pytest.raises(AddressError, match="token68"):
        Bearer.parse_header_value("Bearer abc def")


def test_bearer_repr_redacts() -> None:
    t = Bearer("s3cr3t")
    assert "s3cr3t" not in repr(t)
    assert "s3cr3t" not in str(t)
