"""SocketStream: a Stream over an asyncio socket transport, built on a Protocol."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, SupportsIndex

from pyrama_core import Extensions
from pyrama_net._socket_address import SocketAddress
from pyrama_net.errors import AddressError

__all__ = ["SocketInfo", "SocketStream", "SocketStreamProtocol", "open_socket_stream"]

_READ_HIGH_WATER = 256 * 1024
# the family a socket address tells: an IPv4 tuple has 2 items, an IPv6 one 4 (host, port,
# flowinfo, scope id), a Unix address is a path (str, or bytes in the abstract namespace)
_FAMILY_OF_ADDRESS: dict[object, socket.AddressFamily] = {
    2: socket.AF_INET,
    4: socket.AF_INET6,
}
if hasattr(socket, "AF_UNIX"):
    _FAMILY_OF_ADDRESS[str] = _FAMILY_OF_ADDRESS[bytes] = socket.AF_UNIX
_WRITE_HIGH_WATER = 256 * 1024


@dataclass(frozen=True, slots=True)
class SocketInfo:
    """The addresses of a socket stream, inserted into its extensions.

    ``local`` and ``peer`` are what the OS reports (``(host, port)`` tuples for IP sockets,
    a path string for Unix sockets); ``family`` is the socket family.
    """

    local: Any
    peer: Any
    family: socket.AddressFamily

    @property
    def local_address(self) -> SocketAddress | None:
        """The local address as a :class:`~pyrama_net.SocketAddress`, or ``None`` (Unix)."""
        return _to_socket_address(self.local)

    @property
    def peer_address(self) -> SocketAddress | None:
        """The peer address as a :class:`~pyrama_net.SocketAddress`, or ``None`` (Unix)."""
        return _to_socket_address(self.peer)


# the slots of SocketInfo's fields, for the pending form below to fill them
_LOCAL_SLOT: Any = SocketInfo.__dict__["local"]
_PEER_SLOT: Any = SocketInfo.__dict__["peer"]
_FAMILY_SLOT: Any = SocketInfo.__dict__["family"]
_new = object.__new__
_set_class = object.__setattr__


class _PendingSocketInfo(SocketInfo):
    """A :class:`SocketInfo` whose addresses are asked of the transport when first read.

    Asking costs two conversions of socket addresses to Python objects and the SocketInfo
    itself (some 15k instructions), and most streams a proxy dials are relayed without
    anyone reading their addresses. Until then the transport waits in the ``local`` slot;
    the first read of any field (``repr``, ``==`` and ``hash`` read them too) fills the
    fields and turns the object into a plain :class:`SocketInfo` (same slots, so only its
    class changes).
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> SocketInfo:  # type: ignore[misc]
        # made with its fields (dataclasses.replace given every field): a plain SocketInfo
        return SocketInfo(*args, **kwargs)

    @staticmethod
    def of(transport: asyncio.BaseTransport) -> SocketInfo:
        """A SocketInfo of *transport*, filled in when first read."""
        info = _new(_PendingSocketInfo)
        _LOCAL_SLOT.__set__(info, transport)
        return info

    def _fill(self) -> None:
        t = _LOCAL_SLOT.__get__(self, SocketInfo)
        # both loops keep the addresses they learnt when the connection was made: asking
        # for them costs no system call, while the socket object (for its family) does
        local = t.get_extra_info("sockname")
        family = _FAMILY_OF_ADDRESS.get(type(local) if type(local) is not tuple else len(local))
        if family is None:
            sock = t.get_extra_info("socket")
            family = socket.AF_UNSPEC if sock is None else socket.AddressFamily(sock.family)
        _LOCAL_SLOT.__set__(self, local)
        _PEER_SLOT.__set__(self, t.get_extra_info("peername"))
        _FAMILY_SLOT.__set__(self, family)
        _set_class(self, "__class__", SocketInfo)

    def __eq__(self, other: object) -> bool:
        self._fill()
        return self == other

    def __hash__(self) -> int:
        self._fill()
        return hash(self)

    def __repr__(self) -> str:
        self._fill()
        return repr(self)

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        self._fill()  # a copy or pickle of a plain SocketInfo
        return self.__reduce_ex__(protocol)

    @property
    def local(self) -> Any:
        """The local address (filled in now)."""
        self._fill()
        return self.local

    @property
    def peer(self) -> Any:
        """The peer address (filled in now)."""
        self._fill()
        return self.peer

    @property
    def family(self) -> socket.AddressFamily:
        """The socket family (filled in now)."""
        self._fill()
        return self.family


def _to_socket_address(sockaddr: Any) -> SocketAddress | None:
    if not isinstance(sockaddr, tuple):
        return None  # a Unix path (str/bytes), or unknown
    try:
        return SocketAddress.from_tuple(sockaddr)
    except AddressError:
        return None


class SocketStreamProtocol(asyncio.Protocol):
    """The asyncio Protocol that buffers incoming bytes for a :class:`SocketStream`.

    Listeners pass ``lambda: SocketStreamProtocol(loop, on_connect=spawn)`` to
    ``loop.create_server``/``create_unix_server``: once the transport exists, a
    :class:`SocketStream` is made and handed to *on_connect*. *stream_factory* (default
    :class:`SocketStream`) builds that stream from ``(transport, protocol)``; transports pass a
    subclass (``TcpStream``, ``UnixStream``) here. *info*, when the creator knows the
    connection's addresses already, becomes the stream's :class:`SocketInfo` as it is
    (otherwise the stream asks the socket).
    """

    __slots__ = (
        "_buf",
        "_closed",
        "_drain_waiter",
        "_eof",
        "_exc",
        "_info",
        "_on_writable",
        "_paused_reading",
        "_paused_writing",
        "_read_waiter",
        "_receiver",
        "loop",
        "on_connect",
        "stream",
        "stream_factory",
        "transport",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_connect: Callable[[SocketStream], None] | None = None,
        *,
        stream_factory: Callable[[asyncio.Transport, SocketStreamProtocol], SocketStream]
        | None = None,
        info: SocketInfo | None = None,
    ) -> None:
        self.loop = loop
        # the connection's addresses when the creator knows them already (a listener learns
        # the peer from accept()): the stream then asks the socket for none of them
        self._info = info
        self.on_connect = on_connect
        self.stream_factory: Callable[[asyncio.Transport, SocketStreamProtocol], SocketStream] = (
            SocketStream if stream_factory is None else stream_factory
        )
        self.stream: SocketStream | None = None
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._eof = False
        self._exc: BaseException | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._receiver: Callable[[bytes], None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        # a relay's callback for when the write queue went below its low-water mark again
        self._on_writable: Callable[[], None] | None = None
        self._paused_reading = False
        self._paused_writing = False
        self._closed: asyncio.Future[None] = loop.create_future()

    # asyncio callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it: no isinstance
        t: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport = t
        t.set_write_buffer_limits(_WRITE_HIGH_WATER)  # (high, low): positional is cheaper
        self.stream = self.stream_factory(t, self)
        if self.on_connect is not None:
            self.on_connect(self.stream)

    def data_received(self, data: bytes) -> None:
        receiver = self._receiver
        if receiver is not None:  # a push reader parses in place: nothing is buffered
            receiver(data)
            return
        self._buf += data
        w = self._read_waiter
        if w is not None:
            self._read_waiter = None
            if not w.done():
                w.set_result(None)
        if len(self._buf) > _READ_HIGH_WATER and not self._paused_reading:
            self._paused_reading = True
            assert self.transport is not None
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        receiver = self._receiver
        if receiver is not None:
            receiver(b"")
        return True  # keep the transport open for writing (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._paused_writing = False  # no resume_writing will come: drain() must not wait
        if exc is not None and self._exc is None:
            self._exc = exc
        self._wake_reader()
        dw = self._drain_waiter
        if dw is not None and not dw.done():
            self._drain_waiter = None
            if exc is None:
                dw.set_result(None)
            else:
                dw.set_exception(exc)
        if not self._closed.done():
            self._closed.set_result(None)
        receiver = self._receiver
        if receiver is not None:
            self._receiver = None
            receiver(b"")
        # uvloop's transport keeps a bound method of ours after this: without the reference
        # back, the pair is freed by reference counting instead of waiting for the cyclic GC
        self.transport = None

    def take_stream(self) -> SocketStream:
        """Return the stream made in ``connection_made`` and forget it here.

        For code that created this protocol itself (listeners, connectors): the stream keeps
        the protocol, and without the protocol keeping the stream the pair is freed by
        reference counting when the connection is done, instead of by the cyclic garbage
        collector (whose runs cost a busy server a noticeable share of its CPU). Raises
        ``RuntimeError`` before ``connection_made`` or when the stream was already taken.
        """
        stream = self.stream
        if stream is None:
            raise RuntimeError("no stream to take: not connected yet, or already taken")
        self.stream = None
        return stream

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        dw = self._drain_waiter
        if dw is not None:
            self._drain_waiter = None
            if not dw.done():
                dw.set_result(None)
        on_writable = self._on_writable
        if on_writable is not None:
            on_writable()

    def _wake_reader(self) -> None:
        w = self._read_waiter
        if w is not None:
            self._read_waiter = None
            if not w.done():
                w.set_result(None)


class SocketStream:
    """A :class:`~pyrama_net.Stream` over an asyncio socket transport (TCP or Unix).

    Bytes are buffered by an ``asyncio.Protocol`` (measured faster than StreamReader/Writer for
    relays), reading pauses above 256 KiB unread, and :meth:`detach_socket` lets a relay take
    the socket over for ``os.splice``.
    """

    __slots__ = ("_detached", "_extensions", "_proto", "_transport")

    def __init__(self, transport: asyncio.Transport, protocol: SocketStreamProtocol) -> None:
        self._transport = transport
        self._proto = protocol
        self._detached = False
        self._extensions = ext = Extensions()
        info = protocol._info
        if info is not None:  # the creator's SocketInfo, as it is
            ext.insert(info)
        else:  # one asked of the transport when first read
            ext.insert(_PendingSocketInfo.of(transport), SocketInfo)

    @property
    def extensions(self) -> Extensions:
        """Facts about this stream; holds a :class:`SocketInfo`."""
        return self._extensions

    @property
    def transport(self) -> asyncio.Transport:
        """The underlying asyncio transport."""
        return self._transport

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the stream's transport runs on.

        For code that holds the stream and needs the loop: ``asyncio.get_running_loop()``
        is a ``getpid`` system call on CPython 3.11.
        """
        return self._proto.loop

    @property
    def socket_stream(self) -> SocketStream:
        """The stream itself (``self``).

        A relay (:func:`~pyrama_net.bridge`) asks a stream for it to drive the socket
        stream underneath directly (from the transport's callbacks, without a task): a
        wrapper that forwards unknown attributes to its inner stream hands the inner one
        over this way, so such a wrapper must pass reads and writes through unchanged.
        """
        return self

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Pass-through to the transport's ``get_extra_info``."""
        return self._transport.get_extra_info(name, default)

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Return up to *max_bytes* bytes (at least one), or ``b""`` at EOF."""
        p = self._proto
        while not p._buf:
            if p._exc is not None:
                exc = p._exc
                raise exc
            if p._eof:
                return b""
            w = p.loop.create_future()
            p._read_waiter = w
            await w
        buf = p._buf
        if len(buf) <= max_bytes:
            data = bytes(buf)
            buf.clear()
        else:
            data = bytes(buf[:max_bytes])
            del buf[:max_bytes]
        if p._paused_reading and len(buf) <= _READ_HIGH_WATER // 2:
            p._paused_reading = False
            self._transport.resume_reading()
        return data

    def buffered(self) -> int:
        """How many received bytes are waiting to be read."""
        return len(self._proto._buf)

    def set_receiver(self, receiver: Callable[[bytes], None] | None, /) -> None:
        """Have *receiver* called with each chunk as it arrives (``None``: buffer again).

        See :class:`~pyrama_net.PushStream`. ``b""`` tells the receiver that the peer
        finished sending or the connection was lost; it is also the last call when the
        connection is lost (the receiver is removed then). Raises ``RuntimeError`` when
        installing while bytes are buffered or after the end of the stream was seen.
        """
        p = self._proto
        if receiver is not None and (p._buf or p._eof or p._exc is not None):
            raise RuntimeError("read the buffered bytes (or the end) before pushing")
        p._receiver = receiver

    def at_eof(self) -> bool:
        """Whether the stream is used up: no buffered bytes and nothing more can arrive.

        True once the peer's EOF (or the loss of the connection) has been seen and every
        buffered byte was read, so a :meth:`read` would return ``b""`` (or raise the
        connection's error) without waiting. Never waits and never reads; a pool asks this
        of an idle connection to tell whether the peer has closed it.
        """
        p = self._proto
        return p._eof and not p._buf

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Queue *data* for sending."""
        self._transport.write(data)

    def write_paused(self) -> bool:
        """Whether the write queue is above the high-water mark (:meth:`drain` would wait).

        Lets a writer skip the ``drain()`` call (a coroutine) when there is nothing to wait
        for; ``drain()`` also reports a connection that failed, which then shows on the next
        read instead.
        """
        return self._proto._paused_writing

    async def drain(self) -> None:
        """Wait until the write queue is below the high-water mark."""
        p = self._proto
        if p._exc is not None and self._transport.is_closing():
            raise p._exc
        if not p._paused_writing:
            return
        if self._transport.is_closing():
            # connection_lost will (or did) wake us; avoid waiting forever on a dead transport
            await asyncio.sleep(0)
            if p._exc is not None:
                raise p._exc
            if p._closed.done():
                return  # connection_lost ran without an error: nothing left to wait for
        w = p._drain_waiter
        if w is None or w.done():
            w = p.loop.create_future()
            p._drain_waiter = w
        await asyncio.shield(w)

    def can_write_eof(self) -> bool:
        """Whether half-close is supported by the transport."""
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        """Half-close the sending side."""
        if not self._transport.is_closing():
            self._transport.write_eof()

    def is_closing(self) -> bool:
        """Whether the stream is closed or closing."""
        return self._transport.is_closing()

    async def close(self) -> None:
        """Close the stream and wait until the transport has let go of the socket."""
        if not self._transport.is_closing():
            self._transport.close()
        closed = self._proto._closed
        if not closed.done():
            await asyncio.shield(closed)

    def is_closed(self) -> bool:
        """Whether the transport has let go of the socket (:meth:`close` would not wait)."""
        return self._proto._closed.done()

    def abort(self) -> None:
        """Close at once, dropping queued writes (sends RST on TCP)."""
        self._transport.abort()

    async def detach_socket(self) -> tuple[socket.socket, bytes] | None:
        """Stop reading, flush writes, and hand over a duplicate of the socket.

        See :meth:`pyrama_net.DetachableStream.detach_socket`. The returned socket is a
        ``dup()`` of the transport's (same kernel socket, its own descriptor), in non-blocking
        mode; the caller closes it. This stream's transport is closed right away (that only
        lets go of its own descriptor: the connection lives on in the duplicate), so a later
        :meth:`close` has nothing left to wait for.
        """
        t = self._transport
        if self._detached or t.is_closing() or self._proto._exc is not None:
            return None
        raw = t.get_extra_info("socket")
        if raw is None:
            return None
        if t.get_write_buffer_size() > 0:
            t.pause_reading()
            self._proto._paused_reading = True
            # flush everything we queued to the kernel before someone else writes on the socket
            while t.get_write_buffer_size() > 0:
                t.set_write_buffer_limits(high=0, low=0)
                self._proto._paused_writing = True
                try:
                    await self.drain()
                except OSError:
                    return None
                if t.is_closing():
                    return None
        fd = os.dup(raw.fileno())
        self._detached = True
        leftover = bytes(self._proto._buf)
        self._proto._buf.clear()
        # naming family/type/proto spares the three getsockopt calls socket() makes to learn them
        sock = socket.socket(raw.family, raw.type, raw.proto, fileno=fd)
        sock.setblocking(False)
        t.close()  # nothing is queued: this closes only the transport's own descriptor
        return sock, leftover

    def __repr__(self) -> str:
        info = self._extensions.get(SocketInfo)
        return f"SocketStream(peer={info.peer if info else None!r})"


async def open_socket_stream(sock: socket.socket) -> SocketStream:
    """Wrap an already connected (or accepted) socket into a :class:`SocketStream`."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    _, proto = await loop.connect_accepted_socket(lambda: SocketStreamProtocol(loop), sock)
    return proto.take_stream()
