from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pyrama_http_types import (
    AkamaiH2Fingerprint,
    H2Priority,
    HeaderMap,
    Ja4H,
    Method,
    Request,
    Version,
    parse_request_head,
)

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "vectors"
JA4H_FILE = VECTORS / "http_request_ja4h.jsonl"


def _load_ja4h_vectors() -> list[dict[str, Any]]:
    if not JA4H_FILE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"test vectors missing: {JA4H_FILE}")
        pytest.skip(f"test vectors missing: {JA4H_FILE}")
    return [json.loads(line) for line in JA4H_FILE.read_text().splitlines() if line.strip()]


def test_ja4h_every_vector() -> None:
    vectors = _load_ja4h_vectors()
    assert len(vectors) >= 71
    failures = []
    for v in vectors:
        where = f"{v['source']} stream {v['stream']} frame {v['frame']}"
        method, _uri, version, headers = parse_request_head(bytes.fromhex(v["request_head_hex"]))
        fp = Ja4H.from_head(method, version, headers)
        if fp.ja4h_ro != v["ja4h_ro"]:
            failures.append(f"{where}: ja4h_ro {fp.ja4h_ro!r} != {v['ja4h_ro']!r}")
        if fp.ja4h != v["ja4h"]:
            failures.append(f"{where}: ja4h {fp.ja4h!r} != {v['ja4h']!r}")
    assert not failures, "\n".join(failures)


def test_ja4h_with_cookies_sorted_and_original_order() -> None:
    headers = HeaderMap(
        [
            ("Host", "example.com"),
            ("Cookie", "b=2; a=1; flag"),
            ("Referer", "https://x/"),
            ("Accept-Language", "de-CH;q=0.9, en"),
            ("Cookie", "c=3"),
        ]
    )
    req = Request("POST", "/", headers=headers)
    fp = Ja4H.compute(req)
    assert fp.prefix == "po11cr02dech"
    assert fp.cookies == (("b", "2"), ("a", "1"), ("flag", None), ("c", "3"))
    assert fp.ja4h_ro == "po11cr02dech_Host,Accept-Language_b,a,flag,c_b=2,a=1,flag,c=3"
    assert fp.ja4h_r == "po11cr02dech_Host,Accept-Language_a,b,c,flag_a=1,b=2,c=3,flag"
    assert str(fp) == fp.ja4h

    def h12(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    headers_hash = h12("Host,Accept-Language")
    assert fp.ja4h == (f"po11cr02dech_{headers_hash}_{h12('a,b,c,flag')}_{h12('a=1,b=2,c=3,flag')}")
    assert fp.ja4h_o == (
        f"po11cr02dech_{headers_hash}_{h12('b,a,flag,c')}_{h12('b=2,a=1,flag,c=3')}"
    )


def test_ja4h_versions_count_cap_and_no_language() -> None:
    many = HeaderMap([(f"X-{i}", "v") for i in range(120)])
    fp = Ja4H.from_head(Method.GET, Version.HTTP_2, many)
    assert fp.prefix == "ge20nn990000"
    assert fp.ja4h.endswith("_000000000000_000000000000")
    assert Ja4H.from_head("OPTIONS", Version.HTTP_3, HeaderMap()).prefix == "op30nn000000"
    assert Ja4H.from_head("GET", Version.HTTP_10, HeaderMap()).ja4h == (
        "ge10nn000000_000000000000_000000000000_000000000000"
    )


# -- Akamai h2 ------------------------------------------------------------------------------
# Expected strings from Akamai, "Passive Fingerprinting of HTTP/2 Clients" (Black Hat EU 2017,
# http://akamai.me/2qWIqON), section 4.0 and its example list.

FIREFOX_53_PRIORITIES = [
    (3, False, 0, 201),
    (5, False, 0, 101),
    (7, False, 0, 1),
    (9, False, 7, 1),
    (11, False, 3, 1),
]


def test_akamai_firefox_53_paper_example() -> None:
    fp = AkamaiH2Fingerprint.from_frames(
        settings=[(1, 65536), (4, 131072), (5, 16384)],
        window_update=12517377,
        priorities=FIREFOX_53_PRIORITIES,
        pseudo_headers=[":method", ":path", ":authority", ":scheme"],
    )
    assert str(fp) == (
        "1:65536;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1|m,p,a,s"
    )
    assert AkamaiH2Fingerprint.parse(str(fp)) == fp


def test_akamai_chrome_58_paper_example() -> None:
    fp = AkamaiH2Fingerprint.from_frames(
        settings=[(1, 65536), (3, 1000), (4, 6291456)],
        window_update=15663105,
        pseudo_headers="m,a,s,p",
    )
    assert str(fp) == "1:65536;3:1000;4:6291456|15663105|0|m,a,s,p"


def test_akamai_nghttp2_paper_example_without_window_update() -> None:
    # Example 9 (nghttp2/1.22.0): no WINDOW_UPDATE is written as "00"; no PS in the example.
    fp = AkamaiH2Fingerprint.parse("3:100;4:65535|00|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1")
    assert fp.window_update is None
    assert fp.settings == ((3, 100), (4, 65535))
    assert fp.priorities[3] == H2Priority(9, False, 7, 1)
    assert str(fp) == "3:100;4:65535|00|3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1|"


def test_akamai_md5_and_peet_variant() -> None:
    # tls.peet.ws reports akamai_fingerprint_hash = md5 of its (comma-separated) string;
    # fd4f649c50a64e33cc9e2407055bafbe for this Firefox string. Our form uses ';'.
    peet = (
        "1:65536,4:131072,5:16384|12517377|"
        "3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1,13:0:0:241|m,p,a,s"
    )
    fp = AkamaiH2Fingerprint.parse(peet)
    assert str(fp) == peet.replace(",4:", ";4:").replace(",5:16384", ";5:16384")
    assert hashlib.md5(peet.encode()).hexdigest() == "fd4f649c50a64e33cc9e2407055bafbe"
    assert fp.md5 == hashlib.md5(str(fp).encode()).hexdigest()


def test_akamai_pseudo_header_forms_and_unknown_skipped() -> None:
    fp = AkamaiH2Fingerprint.from_frames(
        [(2, 0)], None, [], [":method", ":scheme", ":authority", ":path", ":protocol"]
    )
    assert fp.pseudo_header_order == ("m", "s", "a", "p")
    assert str(fp) == "2:0|00|0|m,s,a,p"
    assert AkamaiH2Fingerprint.from_frames([], 1, [], ["method", "PATH"]).pseudo_header_order == (
        "m",
        "p",
    )


@pytest.mark.parametrize(
    "bad",
    ["", "1:2", "1:x|00|0|m", "1:2|00|3:2:0:1|m", "1:2|00|3:0:0|m", "1:2|00|0|m,z", "a|b|c|d|e"],
)
def test_akamai_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not an Akamai HTTP/2 fingerprint"):
        AkamaiH2Fingerprint.parse(bad)


def test_akamai_validation() -> None:
    with pytest.raises(ValueError, match="weight"):
        H2Priority(1, False, 0, 0)
    with pytest.raises(ValueError, match="31-bit"):
        H2Priority(2**31, False, 0, 1)
    with pytest.raises(ValueError, match="setting"):
        AkamaiH2Fingerprint.from_frames([(1, 2**32)], None)
    with pytest.raises(ValueError, match="WINDOW_UPDATE"):
        AkamaiH2Fingerprint.from_frames([], -1)
