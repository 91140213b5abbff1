"""SseEvent encoding and the incremental SseParser (WHATWG processing model), incl. properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_http_types import SseEvent, SseParser
from pyrama_http_types.errors import SseError, SseLimitError


def parse_all(data: bytes, **kw: object) -> list[SseEvent]:
    p = SseParser(**kw)  # type: ignore[arg-type]
    return p.feed(data) + p.finish()


def test_encode_all_fields_in_order() -> None:
    ev = SseEvent(data="a\nb", event="tick", id="7", retry=1500, comment="hi")
    assert ev.encode() == b": hi\nevent: tick\nid: 7\nretry: 1500\ndata: a\ndata: b\n\n"


def test_encode_empty_and_multiline_edges() -> None:
    assert SseEvent(data="").encode() == b"data:\n\n"
    assert SseEvent(data="x\r\ny\rz\n").encode() == b"data: x\ndata: y\ndata: z\ndata:\n\n"
    assert SseEvent(id="").encode() == b"id\n\n"
    assert SseEvent(comment="").encode() == b":\n\n"
    assert SseEvent().encode() == b"\n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "a\nb"},
        {"event": "a\rb"},
        {"id": "1\n"},
        {"id": "a\0b"},
        {"retry": -1},
    ],
)
def test_invalid_fields_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(SseError):
        SseEvent(**kwargs)  # type: ignore[arg-type]


def test_json_event_round_trip() -> None:
    ev = SseEvent.json({"n": 1, "s": "é"}, event="j")
    assert ev.data == '{"n":1,"s":"é"}'
    (got,) = parse_all(ev.encode())
    assert got.event == "j"
    assert got.json_data() == {"n": 1, "s": "é"}
    with pytest.raises(SseError):
        SseEvent(data="{nope").json_data()
    with pytest.raises(SseError):
        SseEvent(event="x").json_data()


def test_spec_example_streams() -> None:
    # from the WHATWG examples: two data lines join with LF; a leading space is dropped once
    assert parse_all(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [SseEvent(data="YHOO\n+2\n10")]
    assert parse_all(b"data:test\n\ndata:  two spaces\n\n") == [
        SseEvent(data="test"),
        SseEvent(data=" two spaces"),
    ]
    # a field without colon has an empty value; 'data' alone makes an empty data line
    assert parse_all(b"data\ndata\ndata\n\n") == [SseEvent(data="\n\n")]
    # a block without data dispatches nothing; an unterminated last block is dropped
    assert parse_all(b"event: x\n\ndata: tail") == []


def test_line_endings_bom_and_comments() -> None:
    stream = b"\xef\xbb\xbf: keep\r\ndata: a\r\rdata: b\n\r\n"
    assert parse_all(stream) == [SseEvent(data="a"), SseEvent(data="b")]
    assert parse_all(stream, comments=True) == [
        SseEvent(comment="keep"),
        SseEvent(data="a"),
        SseEvent(data="b"),
    ]
    # only the first BOM is skipped: a second one is part of the field name (unknown field)
    assert parse_all(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []


def test_id_persists_retry_and_unknown_fields() -> None:
    p = SseParser()
    got = p.feed(b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n")
    assert [e.id for e in got] == ["1", "1", None]
    assert p.last_event_id == ""
    got = p.feed(b"id: a\0b\nretry: 12x\nfoo: bar\ndata: d\n\n")
    assert got == [SseEvent(data="d")]  # NUL id ignored, bad retry ignored, unknown field ignored
    got = p.feed(b"retry: 3000\nevent: e\ndata: x\n\n")
    assert got == [SseEvent(data="x", event="e", retry=3000)]
    assert p.retry == 3000


def test_crlf_split_across_feeds() -> None:
    p = SseParser()
    assert p.feed(b"data: a\r") == []
    assert p.feed(b"\n") == []
    assert p.feed(b"\r") == [SseEvent(data="a")]
    assert p.feed(b"\ndata: b\n\n") == [SseEvent(data="b")]


def test_invalid_utf8_is_replaced_and_split_sequences_join() -> None:
    assert parse_all(b"data: \xff\n\n") == [SseEvent(data="\ufffd")]
    p = SseParser()
    raw = "data: é€\n\n".encode()
    out: list[SseEvent] = []
    for i in range(len(raw)):
        out += p.feed(raw[i : i + 1])
    assert out == [SseEvent(data="é€")]


def test_line_limit() -> None:
    p = SseParser(max_line_size=16)
    assert p.feed(b"data: 0123456789\n\n") == [SseEvent(data="0123456789")]
    with pytest.raises(SseLimitError) as info:
        p.feed(b"data: 0123456789abc")
    assert info.value.limit == 16


def test_event_data_limit() -> None:
    p = SseParser(max_event_size=10)
    assert p.feed(b"data: 12345\ndata: 6789\n\n") == [SseEvent(data="12345\n6789")]
    with pytest.raises(SseLimitError):
        p.feed(b"data: 12345\ndata: 67890\n")
    with pytest.raises(ValueError, match="must be >= 1"):
        SseParser(max_line_size=0)


_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
_line = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=20
)


@st.composite
def events(draw: st.DrawFn) -> SseEvent:
    return SseEvent(
        data=draw(_text),
        event=draw(st.none() | _line.filter(bool)),
        id=draw(st.none() | _line.filter(lambda s: "\0" not in s and s != "")),
        retry=draw(st.none() | st.integers(0, 10**9)),
    )


@given(st.lists(events(), max_size=5), st.data())
def test_encode_parse_round_trip_in_any_split(evs: list[SseEvent], data: st.DataObject) -> None:
    wire = b"".join(e.encode() for e in evs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    p = SseParser()
    got: list[SseEvent] = []
    prev = 0
    for cut in [*cuts, len(wire)]:
        got += p.feed(wire[prev:cut])
        prev = cut
    got += p.finish()
    last_id: str | None = None
    expected = []
    for e in evs:
        last_id = e.id if e.id is not None else last_id
        assert e.data is not None
        data_norm = re.sub(r"\r\n|\r", "\n", e.data)
        expected.append(SseEvent(data=data_norm, event=e.event, id=last_id, retry=e.retry))
    assert got == expected


@given(st.binary(max_size=300), st.integers(1, 50))
def test_arbitrary_bytes_never_crash_and_split_does_not_matter(raw: bytes, step: int) -> None:
    whole = parse_all(raw, comments=True)
    p = SseParser(comments=True)
    pieces: list[SseEvent] = []
    for i in range(0, len(raw), step):
        pieces += p.feed(raw[i : i + step])
    pieces += p.finish()
    assert pieces == whole
    for ev in whole:
        assert ev.data is not None or ev.comment is not None


def test_absurd_retry_is_ignored() -> None:
    p = SseParser()
    assert p.feed(b"retry: " + b"9" * 5000 + b"\ndata: x\n\n") == [SseEvent(data="x")]
    assert p.retry is None
    assert p.feed(b"retry: 999999999999999\ndata: y\n\n")[0].retry == 999999999999999
