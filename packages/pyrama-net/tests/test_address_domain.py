import copy
import pickle

import pytest

import pyrama_net._idna as idna_mod
from pyrama_net import Domain
from pyrama_net._domain import MAX_DOMAIN_INPUT_LEN, MAX_DOMAIN_LEN, MAX_LABEL_LEN
from pyrama_net.errors import AddressError


def test_parse_lowercases_and_equals_case_insensitively() -> None:
    d = Domain.parse("WWW.Example.COM")
    assert str(d) == "www.example.com"
    assert d == Domain("www.example.com")
    assert hash(d) == hash(Domain("www.EXAMPLE.com"))
    assert d.labels == ("www", "example", "com")


def test_constructor_is_parse() -> None:
    assert Domain("Example.com") == Domain.parse("example.com")
    with pytest.raises(AddressError):
        Domain("bad domain")


def test_trailing_dot_is_dropped() -> None:
    assert Domain.parse("example.com.") == Domain.parse("example.com")
    assert str(Domain.parse("example.com.")) == "example.com"


def test_single_label_and_underscore() -> None:
    assert str(Domain.parse("localhost")) == "localhost"
    assert str(Domain.parse("_dmarc.example.com")) == "_dmarc.example.com"
    assert str(Domain.parse("my_host")) == "my_host"


def test_reserved_hyphens_in_non_idn_labels_are_allowed() -> None:
    # real-world names such as YouTube's video hosts
    assert str(Domain.parse("r3---sn-abc.googlevideo.com")) == "r3---sn-abc.googlevideo.com"


def test_idna_unicode_is_converted_to_a_labels() -> None:
    d = Domain.parse("bücher.example")
    assert str(d) == "xn--bcher-kva.example"
    assert d.as_unicode() == "bücher.example"
    assert d.is_idn
    assert d == Domain.parse("xn--bcher-kva.example")
    assert d == Domain.parse("BÜCHER.example")
    assert not Domain.parse("example.com").is_idn


def test_idna_full_width_dots_separate_labels() -> None:
    assert str(Domain.parse("bücher\u3002example")) == "xn--bcher-kva.example"


def test_idna2008_keeps_sharp_s() -> None:
    assert idna_mod.using_idna2008(), "the dev environment has the idna package"
    assert str(Domain.parse("straße.de")) == "xn--strae-oqa.de"
    with pytest.raises(AddressError, match="IDNA2008"):
        Domain.parse("i\u2764.ws")  # emoji: not IDNA2008


def test_idna2003_fallback_without_idna_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idna_mod, "_idna", None)
    assert not idna_mod.using_idna2008()
    assert str(Domain.parse("bücher.example")) == "xn--bcher-kva.example"
    assert str(Domain.parse("straße.de")) == "strasse.de"  # IDNA2003 folds ß
    assert str(Domain.parse("bücher\uff0eexample")) == "xn--bcher-kva.example"
    with pytest.raises(AddressError, match="IDNA2003"):
        Domain.parse("a\u200eb.example")  # left-to-right mark: prohibited by nameprep


def test_existing_idna2003_a_labels_stay_reachable() -> None:
    d = Domain.parse("xn--i-7iq.ws")
    assert d.as_unicode() == "i\u2764.ws"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (".", "no labels"),
        ("exa mple.com", "' '"),
        ("a..b", "empty label"),
        (".example.com", "empty label"),
        ("example.com..", "empty label"),
        ("-a.com", "hyphen"),
        ("a-.com", "hyphen"),
        ("a\x00b.com", "'\\\\x00'"),
        ("ex@mple.com", "'@'"),
        ("exa/mple.com", "'/'"),
        ("1.2.3.4", "numeric"),
        ("host.123", "numeric"),
        ("0x7f", "numeric"),
        ("a.0X1F", "numeric"),
        ("xn--zz.com", "Punycode"),
        ("xn--.com", "hyphen"),
        ("xn--0.com", "Punycode|ASCII"),
        ("xn--abc-9.com", "ASCII|Punycode"),
        ("xn--BCHER-KVA9.example", "Punycode|canonical"),
    ],
)
def test_rejects(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        Domain.parse(text)


def test_error_names_the_input() -> None:
    with pytest.raises(AddressError, match=r"invalid domain 'exa mple\.com'"):
        Domain.parse("exa mple.com")


def test_label_length_limit() -> None:
    ok = "a" * MAX_LABEL_LEN
    assert Domain.parse(f"{ok}.com").labels[0] == ok
    with pytest.raises(AddressError, match="64 characters, over 63"):
        Domain.parse(f"{ok}a.com")


def test_total_length_limit() -> None:
    # 4 labels of 63 + 3 dots = 255; trim to exactly 253
    labels = ["a" * 63, "b" * 63, "c" * 63, "d" * 61]
    name = ".".join(labels)
    assert len(name) == MAX_DOMAIN_LEN
    assert str(Domain.parse(name)) == name
    assert str(Domain.parse(name + ".")) == name  # the trailing dot does not count
    with pytest.raises(AddressError, match="254 characters"):
        Domain.parse(name + "d")


def test_total_length_counts_the_ascii_form() -> None:
    # 40 characters of input, but the A-label is longer than 63
    label = "".join(chr(0x4E00 + i * 37) for i in range(40))
    with pytest.raises(AddressError, match=r"too long|over 63"):
        Domain.parse(label + ".example")
    a_label = Domain.parse("ü" * 20 + ".example").labels[0]
    assert a_label.startswith("xn--")
    assert len(a_label) <= MAX_LABEL_LEN


def test_input_length_limit_comes_before_mapping() -> None:
    # soft hyphens are deleted by UTS #46, so this would map to a short name
    text = "a" + "\u00ad" * MAX_DOMAIN_INPUT_LEN + ".com"
    with pytest.raises(AddressError, match="longer than 1024"):
        Domain.parse(text)
    assert str(Domain.parse("a" + "\u00ad" * 100 + ".com")) == "a.com"


def test_non_str_is_rejected() -> None:
    with pytest.raises(AddressError, match="must be a str"):
        Domain(b"example.com")  # type: ignore[arg-type]


def test_sub_and_parent() -> None:
    parent = Domain("example.com")
    assert Domain("a.b.example.com").is_sub_of(parent)
    assert Domain("example.com").is_sub_of(parent)
    assert not Domain("badexample.com").is_sub_of(parent)
    assert not Domain("com").is_sub_of(parent)
    assert Domain("www.EXAMPLE.com").is_sub_of("example.com")
    assert parent.is_parent_of("x.example.com")
    assert parent.is_parent_of(parent)
    assert not parent.is_parent_of("example.org")
    assert Domain("www.example.com").parent() == parent
    assert Domain("com").parent() is None


def test_frozen_hashable_and_picklable() -> None:
    d = Domain("example.com")
    with pytest.raises(AttributeError):
        d.name = "other.com"  # type: ignore[misc]
    assert not hasattr(d, "__dict__")
    assert {d, Domain("EXAMPLE.com")} == {d}
    assert pickle.loads(pickle.dumps(d)) == d
    assert copy.deepcopy(d) == d
