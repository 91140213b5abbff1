"""H2StreamIo: a pyrama_net.Stream over one HTTP/2 stream (CONNECT tunnels)."""

from __future__ import annotations

import asyncio
import contextlib

from pyrama_core import Extensions
from pyrama_http_core._h2_engine import H2Engine, H2StreamState
from pyrama_http_core._h2_frames import H2ErrorCode
from pyrama_http_core.errors import H2StreamResetError, HttpCoreError
from pyrama_net.errors import StreamError

__all__ = ["H2StreamIo"]

_CLOSE_FLUSH_TIMEOUT = 5.0


class H2StreamIo:
    """A :class:`~pyrama_net.Stream` whose bytes travel as DATA frames of one HTTP/2 stream.

    What a CONNECT request turns into once it was answered with 2xx (either side): reads
    return the peer's DATA (``b""`` once it ended the stream), writes queue DATA that goes out
    as the peer's flow-control windows allow, :meth:`drain` waits for them, :meth:`write_eof`
    ends our side (END_STREAM), :meth:`close` ends it and resets the stream if the peer is
    still sending. Receive windows are handed back as the bytes are read, so a slow reader
    slows the peer down instead of buffering. A reset stream or a lost connection raise
    :class:`~pyrama_net.errors.StreamError` (the HTTP/2 error is its ``__cause__``).
    """

    __slots__ = ("_closed", "_engine", "_extensions", "_pending", "_st")

    def __init__(self, engine: H2Engine, st: H2StreamState, extensions: Extensions) -> None:
        self._engine = engine
        self._st = st
        self._extensions = extensions
        self._pending = b""
        self._closed = False

    @property
    def extensions(self) -> Extensions:
        """Facts about this tunnel (forked from the request's extensions)."""
        return self._extensions

    @property
    def stream_id(self) -> int:
        """The HTTP/2 stream id carrying this tunnel."""
        return self._st.sid

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Return up to *max_bytes* bytes of the peer's DATA, or ``b""`` at END_STREAM."""
        data = self._pending
        if not data:
            if self._closed:
                return b""
            try:
                chunk = await self._engine.recv_next(self._st)
            except (HttpCoreError, ConnectionError) as exc:
                raise StreamError(f"HTTP/2 tunnel read failed: {exc}") from exc
            if chunk is None:
                return b""
            data = chunk
        if len(data) > max_bytes:
            self._pending = data[max_bytes:]
            return data[:max_bytes]
        self._pending = b""
        return data

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Queue *data* to be sent as DATA frames."""
        if self._closed:
            raise StreamError("write on a closed HTTP/2 tunnel")
        try:
            self._engine.queue_data(self._st, bytes(data))
        except (HttpCoreError, ConnectionError) as exc:
            raise StreamError(f"HTTP/2 tunnel write failed: {exc}") from exc

    async def drain(self) -> None:
        """Wait until queued data fits the peer's windows and the transport has room."""
        try:
            await self._engine.wait_writable(self._st)
        except (HttpCoreError, ConnectionError) as exc:
            raise StreamError(f"HTTP/2 tunnel write failed: {exc}") from exc

    def can_write_eof(self) -> bool:
        """Half-close is supported (END_STREAM)."""
        return True

    def write_eof(self) -> None:
        """End our side of the stream after the queued data."""
        st = self._st
        if st.out_end or st.send_error is not None:
            return
        try:
            self._engine.finish_send(st)
        except (HttpCoreError, ConnectionError) as exc:
            raise StreamError(f"HTTP/2 tunnel write_eof failed: {exc}") from exc

    def is_closing(self) -> bool:
        """Whether :meth:`close` was called or the stream is gone."""
        st = self._st
        return self._closed or st.send_error is not None or self._engine.closed

    async def close(self) -> None:
        """End our side (flushing what is queued) and reset the stream if the peer still sends."""
        if self._closed:
            return
        self._closed = True
        self._pending = b""
        st = self._st
        engine = self._engine
        if engine.closed or st.send_error is not None:
            engine.recv_release(st)
            return
        if not st.out_end:
            engine.finish_send(st)
        with contextlib.suppress(TimeoutError, H2StreamResetError, HttpCoreError, ConnectionError):
            await asyncio.wait_for(engine.wait_sent(st), _CLOSE_FLUSH_TIMEOUT)
        if not st.remote_ended and st.sid in engine.streams:
            engine.reset_stream(st, H2ErrorCode.CANCEL)
        else:
            engine.recv_release(st)

    def __repr__(self) -> str:
        return f"H2StreamIo(stream_id={self._st.sid}, closed={self._closed})"
