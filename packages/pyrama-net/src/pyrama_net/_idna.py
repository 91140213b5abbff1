"""IDNA conversion for :class:`~pyrama_net.Domain`: Unicode names to A-labels and back.

Choice of standard:

* Unicode input is converted with the third-party ``idna`` package when it is importable:
  UTS #46 mapping (non-transitional, STD3 rules off so ``_`` survives) followed by IDNA2008
  (RFC 5891) validation of every non-ASCII label. This is what modern resolvers and browsers do:
  ``ß`` stays ``ß`` (``xn--zca``) instead of being folded to ``ss``.
* Without ``idna`` the standard library's ``encodings.idna`` codec is used. It implements
  IDNA2003 (nameprep, RFC 3490), which differs for a handful of characters (``ß``, ``ς``,
  zero-width joiners, symbols such as emoji). ASCII names never touch either path, so they behave
  identically everywhere.
* Labels already in A-label form (``xn--...``) are only checked to be well-formed Punycode that
  decodes to a non-ASCII label and encodes back to itself. They are not re-validated against
  IDNA2008: registered IDNA2003-era names (emoji domains such as ``xn--i-7iq.ws``) must stay
  reachable through a proxy.
"""

from __future__ import annotations

import encodings.idna as _stdlib_idna
from collections.abc import Callable
from types import ModuleType

from pyrama_net._address_util import Invalid

__all__ = ["ACE_PREFIX", "decode_a_label", "unicode_to_ascii", "using_idna2008"]

ACE_PREFIX = "xn--"
"""The ASCII Compatible Encoding prefix of an A-label."""

# Full stop look-alikes that both UTS #46 and IDNA2003 treat as label separators.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def _load_idna() -> ModuleType | None:
    try:
        import idna
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return idna


_idna: ModuleType | None = _load_idna()


def using_idna2008() -> bool:
    """Whether Unicode names are converted with IDNA2008 (the ``idna`` package) or IDNA2003."""
    return _idna is not None


def _label_idna2008(idna: ModuleType) -> Callable[[str], str]:
    def convert(label: str) -> str:
        try:
            raw = idna.alabel(label)
        except (UnicodeError, ValueError) as exc:
            raise Invalid(f"label {label!r} is not a valid IDNA2008 label ({exc})") from exc
        assert isinstance(raw, bytes)
        return raw.decode("ascii")

    return convert


def _label_idna2003(label: str) -> str:
    try:
        return _stdlib_idna.ToASCII(label).decode("ascii")
    except UnicodeError as exc:
        raise Invalid(f"label {label!r} is not a valid IDNA2003 label ({exc})") from exc


def unicode_to_ascii(name: str) -> str:
    """Map a non-ASCII domain name to ASCII, converting each non-ASCII label to an A-label.

    ASCII labels are returned as mapped (lowercased) but otherwise unchecked: the caller applies
    its own LDH rules to the whole result. Raises :class:`Invalid`.
    """
    idna = _idna
    if idna is not None:
        try:
            mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
        except (UnicodeError, ValueError) as exc:
            raise Invalid(f"it has a character not allowed by UTS #46 ({exc})") from exc
        assert isinstance(mapped, str)
        convert = _label_idna2008(idna)
    else:
        mapped = name.translate(_DOTS)
        convert = _label_idna2003
    out = []
    for label in mapped.split("."):
        if label.isascii():
            out.append(label.lower())
        else:
            out.append(convert(label).lower())
    return ".".join(out)


def decode_a_label(label: str) -> str:
    """Decode an ``xn--`` A-label (lowercase ASCII) into its U-label.

    Checks that the Punycode is well formed, decodes to a printable label with at least one
    non-ASCII character and no full-stop look-alike, and encodes back to exactly *label*.
    Raises :class:`Invalid`.
    """
    body = label[len(ACE_PREFIX) :]
    if not body:
        raise Invalid(f"A-label {label!r} has nothing after {ACE_PREFIX!r}")
    try:
        ulabel = body.encode("ascii").decode("punycode")
    except (UnicodeError, ValueError) as exc:
        raise Invalid(f"A-label {label!r} is not valid Punycode") from exc
    if ulabel.isascii():
        raise Invalid(f"A-label {label!r} decodes to a plain ASCII label")
    if not ulabel.isprintable() or ulabel.translate(_DOTS) != ulabel:
        raise Invalid(f"A-label {label!r} decodes to unprintable or dot characters")
    if ulabel.encode("punycode").decode("ascii") != body:
        raise Invalid(f"A-label {label!r} is not in canonical Punycode form")
    return ulabel
