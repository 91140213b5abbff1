"""HTTP client fingerprints: JA4H (FoxIO) and the Akamai HTTP/2 fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from pyrama_http_types._headers import HeaderMap
from pyrama_http_types._message import Request, RequestParts
from pyrama_http_types._version import Version

__all__ = ["AkamaiH2Fingerprint", "H2Priority", "Ja4H"]

_EMPTY_HASH = "000000000000"
_VERSION_CODES = {
    Version.HTTP_09: "09",
    Version.HTTP_10: "10",
    Version.HTTP_11: "11",
    Version.HTTP_2: "20",
    Version.HTTP_3: "30",
}


def _hash12(text: str) -> str:
    if not text:
        return _EMPTY_HASH
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _language_code(value: str | None) -> str:
    if value is None:
        return "0000"
    first = value.replace("-", "").replace(";", ",").lower().split(",")[0].strip()
    return first[:4].ljust(4, "0")


def _split_cookies(values: Iterable[str]) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for value in values:
        for item in value.split(";"):
            item = item.strip()
            if not item:
                continue
            name, eq, rest = item.partition("=")
            out.append((name.strip(), rest if eq else None))
    return tuple(out)


def _cookie_key(pair: tuple[str, str | None]) -> tuple[str, int, str]:
    name, value = pair
    return (name, 0, "") if value is None else (name, 1, value)


@dataclass(frozen=True, slots=True)
class Ja4H:
    """The JA4H fingerprint of an HTTP request (FoxIO JA4+, FoxIO License 1.1).

    ``JA4H = a_b_c_d`` where

    * ``a``: the first two letters of the method, lowercased (``ge``, ``po``); the version
      (``10``, ``11``, ``20``, ``30``); ``c``/``n`` for a Cookie header; ``r``/``n`` for a
      Referer header; the number of headers other than Cookie and Referer (two digits, at most
      99); the first Accept-Language value's first four characters without ``-``, lowercased
      and padded with ``0`` (``0000`` without the header);
    * ``b``: truncated SHA-256 (12 hex digits) of the header names in wire order and original
      case, comma-separated, without Cookie and Referer;
    * ``c``: hash of the cookie names, sorted; ``d``: hash of the ``name=value`` cookie pairs,
      sorted (``000000000000`` when there are no cookies).

    :attr:`ja4h_r` shows the unhashed lists; the ``_o`` variants keep the cookies in their
    original order instead of sorting them.
    """

    method: str
    """The request method as sent."""
    version: Version
    """The HTTP version."""
    header_names: tuple[str, ...]
    """Header names in wire order, original case, without Cookie and Referer."""
    has_cookie: bool
    """Whether a Cookie header was sent."""
    has_referer: bool
    """Whether a Referer header was sent."""
    accept_language: str | None
    """The first Accept-Language value, or ``None``."""
    cookies: tuple[tuple[str, str | None], ...]
    """Cookie (name, value) pairs in the order sent (``None`` for a cookie without ``=``)."""

    @classmethod
    def from_head(cls, method: str, version: Version, headers: HeaderMap) -> Ja4H:
        """Compute from a request head's method, version and headers."""
        names: list[str] = []
        has_cookie = has_referer = False
        cookie_values: list[str] = []
        for raw, value in headers.raw_items():
            low = raw.lower()
            if low == b"cookie":
                has_cookie = True
                cookie_values.append(value.decode("latin-1"))
            elif low == b"referer":
                has_referer = True
            else:
                names.append(raw.decode("latin-1"))
        return cls(
            method=str(method),
            version=version,
            header_names=tuple(names),
            has_cookie=has_cookie,
            has_referer=has_referer,
            accept_language=headers.get("accept-language"),
            cookies=_split_cookies(cookie_values),
        )

    @classmethod
    def compute(cls, request: Request | RequestParts) -> Ja4H:
        """Compute from a :class:`Request` (or its head)."""
        return cls.from_head(request.method, request.version, request.headers)

    @property
    def prefix(self) -> str:
        """The ``a`` part (``ge11cr07enus``)."""
        return "".join(
            (
                self.method.lower()[:2],
                _VERSION_CODES[self.version],
                "c" if self.has_cookie else "n",
                "r" if self.has_referer else "n",
                f"{min(len(self.header_names), 99):02d}",
                _language_code(self.accept_language),
            )
        )

    def _cookie_lists(self, original_order: bool) -> tuple[str, str]:
        pairs = list(self.cookies)
        if not original_order:
            pairs.sort(key=_cookie_key)
        names = ",".join(name for name, _ in pairs)
        values = ",".join(name if value is None else f"{name}={value}" for name, value in pairs)
        return names, values

    def fingerprint(self, *, hashed: bool = True, original_order: bool = False) -> str:
        """One of the four forms: ``ja4h``, ``ja4h_r`` (raw), ``ja4h_o``, ``ja4h_ro``."""
        headers = ",".join(self.header_names)
        names, values = self._cookie_lists(original_order)
        if hashed:
            return f"{self.prefix}_{_hash12(headers)}_{_hash12(names)}_{_hash12(values)}"
        if not self.cookies:
            return f"{self.prefix}_{headers}_"
        return f"{self.prefix}_{headers}_{names}_{values}"

    @property
    def ja4h(self) -> str:
        """The JA4H fingerprint (hashed, cookies sorted)."""
        return self.fingerprint()

    @property
    def ja4h_r(self) -> str:
        """The raw form: unhashed lists, cookies sorted."""
        return self.fingerprint(hashed=False)

    @property
    def ja4h_o(self) -> str:
        """Hashed, cookies in original order."""
        return self.fingerprint(original_order=True)

    @property
    def ja4h_ro(self) -> str:
        """Raw, cookies in original order."""
        return self.fingerprint(hashed=False, original_order=True)

    def __str__(self) -> str:
        return self.ja4h


@dataclass(frozen=True, slots=True)
class H2Priority:
    """One HTTP/2 PRIORITY frame as used by :class:`AkamaiH2Fingerprint`."""

    stream_id: int
    """The stream the frame is about."""
    exclusive: bool
    """The exclusive flag."""
    depends_on: int
    """The stream it depends on."""
    weight: int
    """The effective weight, ``1..256`` (the frame's weight byte plus one)."""

    def __post_init__(self) -> None:
        if not 0 <= self.stream_id < 2**31 or not 0 <= self.depends_on < 2**31:
            raise ValueError("HTTP/2 stream ids are 31-bit")
        if not 1 <= self.weight <= 256:
            raise ValueError(f"an HTTP/2 priority weight is 1..256, got {self.weight}")

    def __str__(self) -> str:
        return f"{self.stream_id}:{int(self.exclusive)}:{self.depends_on}:{self.weight}"


_PSEUDO = {
    ":method": "m",
    ":authority": "a",
    ":scheme": "s",
    ":path": "p",
    "method": "m",
    "authority": "a",
    "scheme": "s",
    "path": "p",
    "m": "m",
    "a": "a",
    "s": "s",
    "p": "p",
}


@dataclass(frozen=True, slots=True)
class AkamaiH2Fingerprint:
    """The Akamai passive HTTP/2 client fingerprint: ``S[;]|WU|P[,]#|PS[,]``.

    Defined in Akamai's "Passive Fingerprinting of HTTP/2 Clients" (Black Hat EU 2017):

    * ``S``: the client's first SETTINGS as ``id:value`` in wire order, joined by ``;``;
    * ``WU``: the connection WINDOW_UPDATE increment sent after it, ``00`` if none;
    * ``P``: PRIORITY frames sent before the first request as
      ``stream:exclusive:depends_on:weight``, joined by ``,``; ``0`` if none;
    * ``PS``: the order of the pseudo-headers of the first request, as letters ``m`` (method),
      ``a`` (authority), ``s`` (scheme), ``p`` (path) joined by ``,``.

    Build it with :meth:`from_frames` (what an HTTP/2 server records) or :meth:`parse`.
    """

    settings: tuple[tuple[int, int], ...]
    """SETTINGS (id, value) pairs in wire order."""
    window_update: int | None
    """The connection WINDOW_UPDATE increment, or ``None`` if none was sent."""
    priorities: tuple[H2Priority, ...]
    """PRIORITY frames in wire order."""
    pseudo_header_order: tuple[str, ...]
    """Pseudo-header letters (``m``, ``a``, ``s``, ``p``) in the order sent."""

    def __post_init__(self) -> None:
        for ident, value in self.settings:
            if not 0 <= ident <= 0xFFFF or not 0 <= value <= 0xFFFFFFFF:
                raise ValueError(f"invalid HTTP/2 setting {ident}:{value}")
        wu = self.window_update
        if wu is not None and not 0 <= wu < 2**31:
            raise ValueError(f"invalid WINDOW_UPDATE increment {wu}")
        for letter in self.pseudo_header_order:
            if letter not in ("m", "a", "s", "p"):
                raise ValueError(f"unknown pseudo-header letter {letter!r}")

    @classmethod
    def from_frames(
        cls,
        settings: Iterable[tuple[int, int]],
        window_update: int | None,
        priorities: Iterable[H2Priority | tuple[int, bool, int, int]] = (),
        pseudo_headers: Iterable[str] | str = (),
    ) -> AkamaiH2Fingerprint:
        """Build from the recorded frames.

        *pseudo_headers* is the order of the first request's pseudo-headers, given as names
        (``":method"``), bare names (``"method"``), letters, or a string like ``"m,a,s,p"``;
        pseudo-headers outside the four of the paper (such as ``:protocol``) are left out.
        *priorities* items are :class:`H2Priority` or ``(stream, exclusive, depends_on,
        weight)`` tuples.
        """
        if isinstance(pseudo_headers, str):
            pseudo_headers = [p for p in pseudo_headers.split(",") if p]
        names = (p.strip().lower() for p in pseudo_headers)
        letters = tuple(_PSEUDO[n] for n in names if n in _PSEUDO)
        prios = tuple(p if isinstance(p, H2Priority) else H2Priority(*p) for p in priorities)
        return cls(tuple((int(i), int(v)) for i, v in settings), window_update, prios, letters)

    @classmethod
    def parse(cls, text: str) -> AkamaiH2Fingerprint:
        """Parse the ``S|WU|P|PS`` text form (``PS`` may be missing, as in the paper's examples).

        Settings separated by ``,`` (the tls.peet.ws variant) are accepted too.
        """
        parts = text.strip().split("|")
        if len(parts) not in (3, 4):
            raise ValueError(f"not an Akamai HTTP/2 fingerprint: {text!r}")
        try:
            settings: list[tuple[int, int]] = []
            if parts[0]:
                for item in parts[0].replace(",", ";").split(";"):
                    ident, _, value = item.partition(":")
                    settings.append((int(ident), int(value)))
            wu = None if parts[1] == "00" else int(parts[1])
            prios: list[H2Priority] = []
            if parts[2] != "0":
                for item in parts[2].split(","):
                    sid, excl, dep, weight = item.split(":")
                    if excl not in ("0", "1"):
                        raise ValueError(f"exclusive bit {excl!r}")
                    prios.append(H2Priority(int(sid), excl == "1", int(dep), int(weight)))
            order = parts[3].split(",") if len(parts) == 4 and parts[3] else []
            return cls(tuple(settings), wu, tuple(prios), tuple(order))
        except ValueError as exc:
            raise ValueError(f"not an Akamai HTTP/2 fingerprint: {text!r} ({exc})") from exc

    def __str__(self) -> str:
        s = ";".join(f"{i}:{v}" for i, v in self.settings)
        wu = "00" if self.window_update is None else str(self.window_update)
        p = ",".join(str(p) for p in self.priorities) if self.priorities else "0"
        ps = ",".join(self.pseudo_header_order)
        return f"{s}|{wu}|{p}|{ps}"

    @property
    def md5(self) -> str:
        """MD5 hex digest of the text form (the "akamai hash" many services show)."""
        return hashlib.md5(str(self).encode("ascii"), usedforsecurity=False).hexdigest()
