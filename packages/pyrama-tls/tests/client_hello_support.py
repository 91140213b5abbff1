"""Shared helpers for the ClientHello tests: the published vectors and byte builders."""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pyrama_testing import unavailable

VECTORS_FILE = "tls_client_hello.jsonl"


def vectors_dir() -> Path:
    """``shared/vectors`` beside the repository (``/work/shared/vectors`` here, and in CI)."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "vectors"


@cache
def _load() -> tuple[dict[str, Any], ...] | None:
    path = vectors_dir() / VECTORS_FILE
    if not path.is_file():
        return None
    return tuple(json.loads(line) for line in path.read_text().splitlines() if line.strip())


def vector_params() -> list[Any]:
    """One pytest param per vector line (a single failing/skipping param when missing)."""
    vectors = _load()
    if vectors is None:
        return [pytest.param(None, id="vectors-missing")]
    return [
        pytest.param(v, id=f"{i}-{v['source']}-s{v['stream']}-f{v['frame']}")
        for i, v in enumerate(vectors)
    ]


def require_vector(v: dict[str, Any] | None) -> dict[str, Any]:
    """Return *v*; when the vectors file is missing, fail under CI and skip elsewhere."""
    if v is None:
        unavailable(f"{vectors_dir() / VECTORS_FILE} is missing (shared/vectors sits by the repo)")
    return v


def unique_vector_bytes() -> list[bytes]:
    """The distinct ClientHello byte strings of the vectors (empty when missing)."""
    vectors = _load() or ()
    seen: dict[bytes, None] = {}
    for v in vectors:
        seen.setdefault(bytes.fromhex(v["client_hello_hex"]), None)
    return list(seen)


def record(payload: bytes, *, ctype: int = 22, version: int = 0x0301) -> bytes:
    """One TLS record around *payload* (lengths not checked: tests build broken ones too)."""
    return struct.pack(">BHH", ctype, version, len(payload)) + payload


def handshake(body: bytes, *, msg_type: int = 1) -> bytes:
    """A handshake message header around *body*."""
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


def hello_body(
    *,
    version: int = 0x0303,
    session_id: bytes = b"",
    ciphers: bytes = b"\x00\x02\x13\x01",
    compression: bytes = b"\x01\x00",
    extensions: bytes | None = b"",
) -> bytes:
    """A ClientHello body from raw pieces; *extensions* is the block content (None: no block)."""
    body = struct.pack(">H", version) + bytes(32) + bytes((len(session_id),)) + session_id
    body += ciphers + compression
    if extensions is not None:
        body += struct.pack(">H", len(extensions)) + extensions
    return body


def ext(ext_type: int, data: bytes = b"") -> bytes:
    """One raw extension."""
    return struct.pack(">HH", ext_type, len(data)) + data


def hello_records(body: bytes) -> bytes:
    """A single record carrying a ClientHello with *body*."""
    return record(handshake(body))
