"""Streaming content codings: gzip, deflate, br, zstd encoders and bounded decoders."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final, Protocol

from pyrama_core.errors import ConfigError
from pyrama_http_types import Body, HeaderMap
from pyrama_http_types.errors import BodyError, BodyTooLargeError

__all__ = [
    "SUPPORTED_ENCODINGS",
    "Decoder",
    "Encoder",
    "available_encodings",
    "decoded_body",
    "encoded_body",
    "make_decoder",
    "make_encoder",
]

SUPPORTED_ENCODINGS: Final = ("zstd", "br", "gzip", "deflate")
"""Every content coding pyrama knows, in its default order of preference."""

_STEP: Final = 16 * 1024  # output produced per decompression step (bounds memory per step)
_ZSTD_SLICE: Final = 128  # zstd input is fed in slices so one step cannot explode


class Encoder(Protocol):
    """A streaming compressor: feed chunks, get compressed bytes out as soon as possible."""

    def compress(self, data: bytes) -> bytes:
        """Compress *data* and flush, so everything given so far can be decoded."""
        ...

    def finish(self) -> bytes:
        """End the stream; the final bytes."""
        ...


class Decoder(Protocol):
    """A streaming decompressor with bounded output per call."""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Decode at most *max_length* bytes from *data* plus input kept from before."""
        ...

    @property
    def has_pending(self) -> bool:
        """Whether input is buffered that may give more output without new input."""
        ...

    def finish(self) -> None:
        """The input ended: raise ``BodyError`` if the stream was truncated."""
        ...


def _brotli() -> Any:
    try:
        import brotli  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "br needs the brotli module: pip install 'pyrama-http[compression]'"
        ) from exc
    return brotli


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "zstd needs the zstandard module: pip install 'pyrama-http[compression]'"
        ) from exc
    return zstandard


def available_encodings() -> tuple[str, ...]:
    """The codings usable here: gzip and deflate always, br and zstd when installed."""
    out = []
    for name in SUPPORTED_ENCODINGS:
        try:
            if name == "br":
                _brotli()
            elif name == "zstd":
                _zstd()
        except ConfigError:
            continue
        out.append(name)
    return tuple(out)


class _ZlibEncoder:
    __slots__ = ("_c",)

    def __init__(self, wbits: int, level: int) -> None:
        self._c = zlib.compressobj(level, zlib.DEFLATED, wbits)

    def compress(self, data: bytes) -> bytes:
        return self._c.compress(data) + self._c.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._c.flush(zlib.Z_FINISH)


class _BrotliEncoder:
    __slots__ = ("_c",)

    def __init__(self, quality: int) -> None:
        self._c = _brotli().Compressor(quality=quality)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data)) + bytes(self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())


class _ZstdEncoder:
    __slots__ = ("_c", "_mod")

    def __init__(self, level: int) -> None:
        self._mod = _zstd()
        self._c = self._mod.ZstdCompressor(level=level).compressobj()

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._c.compress(data)
        tail: bytes = self._c.flush(self._mod.COMPRESSOBJ_FLUSH_BLOCK)
        return out + tail

    def finish(self) -> bytes:
        out: bytes = self._c.flush(self._mod.COMPRESSOBJ_FLUSH_FINISH)
        return out


def make_encoder(encoding: str, level: int | None = None) -> Encoder:
    """A streaming encoder for *encoding* (``gzip``, ``deflate``, ``br``, ``zstd``).

    *level* defaults to a fast-but-good setting per coding (gzip/deflate 6, br 4, zstd 3).
    """
    if encoding == "gzip":
        return _ZlibEncoder(16 + zlib.MAX_WBITS, 6 if level is None else level)
    if encoding == "deflate":
        return _ZlibEncoder(zlib.MAX_WBITS, 6 if level is None else level)
    if encoding == "br":
        return _BrotliEncoder(4 if level is None else level)
    if encoding == "zstd":
        return _ZstdEncoder(3 if level is None else level)
    raise ConfigError(f"unknown content coding {encoding!r}")


class _ZlibDecoder:
    __slots__ = ("_d", "_full", "_gzip", "_sniff")

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        # deflate is the zlib format, but some servers send raw deflate: sniff the header
        self._sniff = not gzip
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._full = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._sniff and data:
            self._sniff = False
            first = data[0]
            if first & 0x0F != 8 or ((data[0] << 8) | (data[1] if len(data) > 1 else 0x9C)) % 31:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        buf = self._d.unconsumed_tail + data if self._d.unconsumed_tail else data
        try:
            out = self._d.decompress(buf, max_length)
            if self._gzip and self._d.eof and self._d.unused_data and not out:
                # a further gzip member
                rest = self._d.unused_data
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out = self._d.decompress(rest, max_length)
        except zlib.error as exc:
            raise BodyError(f"invalid {'gzip' if self._gzip else 'deflate'} data: {exc}") from exc
        self._full = len(out) >= max_length
        return out

    @property
    def has_pending(self) -> bool:
        return (
            self._full
            or bool(self._d.unconsumed_tail)
            or (self._gzip and self._d.eof and bool(self._d.unused_data))
        )

    def finish(self) -> None:
        if not self._d.eof:
            raise BodyError("the compressed body ended before its end-of-stream marker")


class _BrotliDecoder:
    __slots__ = ("_d", "_err", "_more")

    def __init__(self) -> None:
        mod = _brotli()
        self._d = mod.Decompressor()
        self._err = mod.error
        self._more = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            out = bytes(self._d.process(data, output_buffer_limit=max_length))
        except self._err as exc:
            raise BodyError(f"invalid br data: {exc}") from exc
        # output stops at the limit; more may follow for empty input until one comes back empty
        self._more = bool(out) and not self._d.is_finished()
        return out

    @property
    def has_pending(self) -> bool:
        return self._more

    def finish(self) -> None:
        if not self._d.is_finished():
            raise BodyError("the compressed body ended before its end-of-stream marker")


class _ZstdDecoder:
    __slots__ = ("_buf", "_d", "_err", "_mod", "_pos", "_started")

    def __init__(self) -> None:
        self._mod = _zstd()
        self._d = self._mod.ZstdDecompressor().decompressobj()
        self._err = self._mod.ZstdError
        self._buf = b""
        self._pos = 0
        self._started = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data:
            self._buf = self._buf[self._pos :] + data if self._pos < len(self._buf) else data
            self._pos = 0
        buf = memoryview(self._buf)
        out = bytearray()
        try:
            while self._pos < len(buf) and len(out) < max_length:
                piece = bytes(buf[self._pos : self._pos + _ZSTD_SLICE])
                self._pos += len(piece)
                if self._d.eof:  # a further frame
                    piece = self._d.unused_data + piece
                    self._d = self._mod.ZstdDecompressor().decompressobj()
                self._started = True
                out += self._d.decompress(piece)
        except self._err as exc:
            raise BodyError(f"invalid zstd data: {exc}") from exc
        finally:
            buf.release()
        return bytes(out)

    @property
    def has_pending(self) -> bool:
        return self._pos < len(self._buf)

    def finish(self) -> None:
        if self._started and not self._d.eof:
            raise BodyError("the compressed body ended before its end-of-stream marker")


def make_decoder(encoding: str) -> Decoder:
    """A bounded streaming decoder for *encoding*; ``ConfigError`` for unknown codings."""
    if encoding in ("gzip", "x-gzip"):
        return _ZlibDecoder(gzip=True)
    if encoding == "deflate":
        return _ZlibDecoder(gzip=False)
    if encoding == "br":
        return _BrotliDecoder()
    if encoding == "zstd":
        return _ZstdDecoder()
    raise ConfigError(f"unknown content coding {encoding!r}")


def encoded_body(body: Body, encoding: str, level: int | None = None) -> Body:
    """*body* compressed with *encoding*, chunk by chunk as it streams (trailers kept)."""
    encoder = make_encoder(encoding, level)

    async def chunks() -> AsyncIterator[bytes]:
        done = False
        try:
            async for chunk in body:
                out = encoder.compress(chunk)
                if out:
                    yield out
            done = True
        finally:
            if not done:  # the reader stopped early (or the source failed): close the source
                await body.aclose()
        tail = encoder.finish()
        if tail:
            yield tail

    def trailers() -> HeaderMap | None:
        return body.trailers

    return Body.from_iter(chunks(), trailers=trailers)


def decoded_body(
    body: Body,
    encodings: list[str],
    max_size: int | None,
    on_limit: Callable[[int], BodyTooLargeError] | None = None,
) -> Body:
    """*body* with the content codings *encodings* (in the order applied) undone, streaming.

    At most *max_size* decoded bytes are produced (``None``: unlimited); more raise
    :class:`~pyrama_http_types.errors.BodyTooLargeError` (a zip bomb stops there: output is
    produced in bounded steps, never all at once).
    """
    decoders = [make_decoder(e) for e in reversed(encodings)]

    def too_large(limit: int) -> BodyTooLargeError:
        if on_limit is not None:
            return on_limit(limit)
        return BodyTooLargeError(
            f"the decompressed body is larger than the limit of {limit} bytes", limit=limit
        )

    total = 0

    def run(level: int, data: bytes) -> Iterator[bytes]:
        # push data through decoders[level:] in bounded steps, yielding final output
        nonlocal total
        dec = decoders[level]
        while True:
            piece = dec.decompress(data, _STEP)
            data = b""
            if piece:
                if level + 1 < len(decoders):
                    yield from run(level + 1, piece)
                else:
                    total += len(piece)
                    if max_size is not None and total > max_size:
                        raise too_large(max_size)
                    yield piece
            if not piece or not dec.has_pending:
                return

    async def chunks() -> AsyncIterator[bytes]:
        done = False
        try:
            async for chunk in body:
                for piece in run(0, chunk):
                    yield piece
            done = True
        finally:
            if not done:  # stopped early, over the limit or corrupt: close the source
                await body.aclose()
        for i, dec in enumerate(decoders):
            for piece in run(i, b""):  # what a stage still holds
                yield piece
            dec.finish()

    def trailers() -> HeaderMap | None:
        return body.trailers

    return Body.from_iter(chunks(), trailers=trailers)
