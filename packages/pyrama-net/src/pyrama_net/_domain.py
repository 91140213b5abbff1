"""Domain: a validated, normalised DNS name."""

from __future__ import annotations

from dataclasses import dataclass

from pyrama_net._address_util import Invalid, address_error, show
from pyrama_net._idna import ACE_PREFIX, decode_a_label, unicode_to_ascii
from pyrama_net.errors import AddressError

__all__ = ["MAX_DOMAIN_INPUT_LEN", "MAX_DOMAIN_LEN", "MAX_LABEL_LEN", "Domain", "domain_name"]

MAX_LABEL_LEN = 63
"""Longest label, in ASCII (A-label) characters (RFC 1035 2.3.4)."""

MAX_DOMAIN_LEN = 253
"""Longest name in ASCII form, without the optional trailing dot (RFC 1035 2.3.4)."""

MAX_DOMAIN_INPUT_LEN = 1024
"""Longest text :meth:`Domain.parse` looks at; longer input is refused before IDNA mapping."""

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_HEX = frozenset("0123456789abcdef")


def _looks_numeric(label: str) -> bool:
    # The WHATWG URL "ends in a number" rule: a final label of digits, or 0x + hex digits,
    # makes the whole host an IPv4 address (or an error), never a domain.
    if label.isdigit():
        return True
    return label.startswith("0x") and all(c in _HEX for c in label[2:])


def domain_name(text: str) -> str:
    """Validate and normalise *text* into a canonical domain name; raise :class:`Invalid`."""
    if not text:
        raise Invalid("it is empty")
    if len(text) > MAX_DOMAIN_INPUT_LEN:
        raise Invalid(f"it is longer than {MAX_DOMAIN_INPUT_LEN} characters")
    name = text.lower() if text.isascii() else unicode_to_ascii(text)
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise Invalid("it has no labels (the DNS root is not a domain)")
    if len(name) > MAX_DOMAIN_LEN:
        raise Invalid(f"it is {len(name)} characters long in ASCII, over {MAX_DOMAIN_LEN}")
    labels = name.split(".")
    for label in labels:
        if not label:
            raise Invalid("it has an empty label ('..' or a leading dot)")
        if len(label) > MAX_LABEL_LEN:
            raise Invalid(f"label {show(label)} is {len(label)} characters, over {MAX_LABEL_LEN}")
        for c in label:
            if c not in _LABEL_CHARS:
                raise Invalid(f"character {c!r} is not allowed (letters, digits, '-' and '_' only)")
        if label[0] == "-" or label[-1] == "-":
            raise Invalid(f"label {label!r} starts or ends with a hyphen")
        if label.startswith(ACE_PREFIX):
            decode_a_label(label)
    if _looks_numeric(labels[-1]):
        raise Invalid("its last label is numeric, so it reads as an IP address")
    return name


@dataclass(frozen=True, slots=True)
class Domain:
    """A DNS name, validated and normalised on construction.

    ``Domain(text)`` and :meth:`Domain.parse` are the same; both raise
    :class:`~pyrama_net.errors.AddressError` on invalid input.

    Normalisation and rules:

    * The stored :attr:`name` is ASCII and lowercase, so equality and hashing are
      case-insensitive. Unicode input is converted to A-labels (``bücher.example`` becomes
      ``xn--bcher-kva.example``); :meth:`as_unicode` gives the display form back. See
      ``pyrama_net._idna`` for the IDNA standard used (IDNA2008 via the ``idna`` package when it
      is installed, the standard library's IDNA2003 codec otherwise).
    * One trailing dot is accepted and dropped: ``example.com.`` equals ``example.com``. The
      canonical form never has it, and the DNS root (``.``) alone is not a domain.
    * Labels are 1 to 63 characters of ``a-z``, ``0-9``, ``-`` and ``_``, and do not start or end
      with ``-``. The underscore is outside strict LDH but is accepted, as in rama, because real
      names use it (``_dmarc.example.com``, SRV names, container host names).
    * ``--`` in the third and fourth position is allowed for non-``xn--`` labels (IDNA2008 calls
      them reserved, but names like ``r3---sn-abc.googlevideo.com`` exist and must be reachable);
      ``xn--`` labels must be well-formed, canonical Punycode of a non-ASCII label.
    * At most 253 characters in ASCII form; input longer than 1024 characters is refused early.
    * A name whose last label is numeric (``1.2.3.4``, ``host.123``, ``0x7f``) is refused: such
      text is an IP address (or nonsense), not a domain.
    """

    name: str
    """The canonical ASCII form: lowercase, A-labels, no trailing dot."""

    def __post_init__(self) -> None:
        text: object = self.name
        if not isinstance(text, str):
            raise AddressError(f"a domain must be a str, got {type(text).__name__}")
        try:
            name = domain_name(text)
        except Invalid as exc:
            raise address_error("domain", text, exc.reason) from exc.__cause__
        object.__setattr__(self, "name", name)

    @classmethod
    def parse(cls, text: str) -> Domain:
        """Parse and normalise *text*; raise :class:`~pyrama_net.errors.AddressError` if invalid."""
        return cls(text)

    def __str__(self) -> str:
        return self.name

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels, left to right (``("www", "example", "com")``)."""
        return tuple(self.name.split("."))

    @property
    def is_idn(self) -> bool:
        """Whether any label is an internationalised (``xn--``) label."""
        return any(label.startswith(ACE_PREFIX) for label in self.name.split("."))

    def as_unicode(self) -> str:
        """The display form, with every A-label decoded (``bücher.example``).

        This is for humans; :attr:`name` is the form to send on the wire.
        """
        return ".".join(
            decode_a_label(label) if label.startswith(ACE_PREFIX) else label
            for label in self.name.split(".")
        )

    def parent(self) -> Domain | None:
        """The domain one level up (``example.com`` for ``www.example.com``).

        ``None`` for a single-label name (``com``, ``localhost``).
        """
        _, dot, rest = self.name.partition(".")
        if not dot:
            return None
        return Domain(rest)

    def is_sub_of(self, parent: Domain | str) -> bool:
        """Whether this domain is *parent* or lies below it (``a.example.com`` in ``example.com``).

        Matching is on whole labels: ``badexample.com`` is not below ``example.com``. A name is
        considered to be its own sub-domain, which is what wildcard-style rules want
        ("``example.com`` and everything under it"); test ``!=`` too for strictly below.
        """
        p = parent if isinstance(parent, Domain) else Domain(parent)
        return self.name == p.name or self.name.endswith("." + p.name)

    def is_parent_of(self, child: Domain | str) -> bool:
        """Whether *child* is this domain or lies below it; the mirror of :meth:`is_sub_of`."""
        c = child if isinstance(child, Domain) else Domain(child)
        return c.is_sub_of(self)
