"""Encode a :class:`~pyrama_tls.ClientHello` back into handshake and record bytes."""

from __future__ import annotations

import struct

from pyrama_tls._client_hello import ClientHello
from pyrama_tls._client_hello_parser import MAX_RECORD_PAYLOAD

__all__ = ["encode_client_hello", "encode_client_hello_handshake"]

_U16 = struct.Struct(">H")
_U16_PAIR = struct.Struct(">HH")


def encode_client_hello_handshake(ch: ClientHello) -> bytes:
    """The ClientHello handshake message: the 4-byte handshake header and the body.

    The extensions block is written when :attr:`ClientHello.extensions` is non-empty and
    omitted otherwise (a hello without extensions, as TLS 1.0 clients send).
    """
    body = bytearray(_U16.pack(ch.legacy_version))
    body += ch.random
    body.append(len(ch.session_id))
    body += ch.session_id
    n = len(ch.cipher_suites)
    body += struct.pack(f">H{n}H", 2 * n, *ch.cipher_suites)
    body.append(len(ch.compression_methods))
    body += bytes(ch.compression_methods)
    if ch.extensions:
        exts = bytearray()
        for ext in ch.extensions:
            exts += _U16_PAIR.pack(ext.type, len(ext.data))
            exts += ext.data
        if len(exts) > 0xFFFF:
            raise ValueError(f"the extensions block is {len(exts)} bytes, over 65535")
        body += _U16.pack(len(exts))
        body += exts
    if len(body) > 0xFFFFFF:  # pragma: no cover - the field limits above keep it far smaller
        raise ValueError("ClientHello body exceeds 2^24 - 1 bytes")
    return b"\x01" + len(body).to_bytes(3, "big") + bytes(body)


def encode_client_hello(ch: ClientHello, *, record_size: int = MAX_RECORD_PAYLOAD) -> bytes:
    """The TLS records carrying *ch*: handshake records of at most *record_size* bytes each.

    The record version is :attr:`ClientHello.record_version`. A smaller *record_size*
    fragments the hello over several records (as some clients do with large post-quantum
    key shares); ``parse_client_hello(encode_client_hello(ch)) == ch``.
    """
    if not 1 <= record_size <= MAX_RECORD_PAYLOAD:
        raise ValueError(f"record_size must be 1 to {MAX_RECORD_PAYLOAD}")
    msg = encode_client_hello_handshake(ch)
    out = bytearray()
    header = struct.Struct(">BHH")
    for i in range(0, len(msg), record_size):
        chunk = msg[i : i + record_size]
        out += header.pack(22, ch.record_version, len(chunk))
        out += chunk
    return bytes(out)
