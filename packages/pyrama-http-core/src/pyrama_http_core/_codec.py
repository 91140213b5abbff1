"""The HTTP/1.1 codec interface: bytes in, events out; message parts in, bytes out.

A codec is the sans-IO half of an HTTP/1.1 connection. The connection drivers
(:func:`~pyrama_http_core.serve_http1`, :class:`~pyrama_http_core.Http1ClientConnection`) do
the I/O and talk to a codec only through the two protocols below, so a codec can be swapped
without touching them: :class:`~pyrama_http_core.H11ServerCodec` /
:class:`~pyrama_http_core.H11ClientCodec` (h11, the pure-Python reference) today, an httptools
codec later.

Receiving. :meth:`~Http1ServerCodec.receive` buffers bytes (``b""`` means the peer finished
sending); :meth:`~Http1ServerCodec.next_event` returns the next event, or :data:`NEED_DATA`
when more bytes are needed, or :data:`PAUSED` when the codec will not parse further until the
current exchange is finished on our side (HTTP/1.1 pipelining: the next request is parsed only
once the response to this one has been sent). Events:

* :class:`RequestHead` (server) / :class:`ResponseHead` and :class:`InformationalHead`
  (client): the head, with the header fields exactly as received (original name case, order,
  duplicates), plus the framing facts the codec derived from them.
* :class:`BodyData`: a piece of the body (transfer coding removed).
* :class:`EndOfMessage`: the body is complete; carries the trailer fields, if any.
* :class:`ConnectionClosed`: the peer closed; ``complete`` says whether that happened between
  messages (clean) or in the middle of one.
* :class:`CodecError`: the peer broke the protocol; carries an
  :class:`~pyrama_http_core.errors.HttpProtocolError` (side and status hint). After it the
  codec returns the same event again: the connection must be closed.

Sending. ``send_*`` methods take the parts of the outgoing message and return the bytes to
write; header fields are written exactly as given (case and order). The codec adds framing
headers only when the message has none (``Content-Length`` when the size is known,
``Transfer-Encoding: chunked`` otherwise, ``Connection: close`` when the connection must end)
and raises :class:`~pyrama_http_core.errors.HttpProtocolError` with ``side=LOCAL`` when the
message breaks HTTP (bad header bytes, more body than ``Content-Length`` says, ...).

Protocol switches. A request with ``Upgrade`` or the ``CONNECT`` method may switch the
connection to another protocol: after the switching response (``101``, or ``2xx`` to
``CONNECT``) has been sent or received, :meth:`~Http1ServerCodec.take_switched` returns the
bytes the codec had buffered beyond the HTTP/1.1 exchange (they belong to the new protocol).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeAlias, runtime_checkable

from pyrama_http_core.errors import HttpProtocolError

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "BodyData",
    "ClientEvent",
    "CodecError",
    "CodecSignal",
    "ConnectionClosed",
    "EndOfMessage",
    "Http1ClientCodec",
    "Http1ServerCodec",
    "InformationalHead",
    "RawHeaders",
    "RequestHead",
    "ResponseHead",
    "ServerEvent",
    "make_request_head",
]

RawHeaders: TypeAlias = list[tuple[bytes, bytes]]
"""Header fields as ``(name, value)`` bytes pairs, names in their original case, in order."""


class CodecSignal(enum.Enum):
    """What :meth:`~Http1ServerCodec.next_event` returns when it has no event."""

    NEED_DATA = "need_data"
    """More bytes must be received before the next event."""
    PAUSED = "paused"
    """Parsing waits until our side finishes the current exchange (or a switch)."""


NEED_DATA: Final = CodecSignal.NEED_DATA
"""More bytes must be received before the next event."""

PAUSED: Final = CodecSignal.PAUSED
"""Parsing waits until our side of the current exchange is finished."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A received request head (server side).

    * ``method``, ``target``: as on the request line (bytes); ``version``: ``b"1.1"`` or
      ``b"1.0"``.
    * ``headers``: every field exactly as received (original case, order, duplicates).
    * ``keep_alive``: whether the client allows the connection to be reused afterwards.
    * ``expect_continue``: the client sent ``Expect: 100-continue`` and waits before the body.
    * ``content_length``: the declared body length, or ``None`` (chunked, or no body).
    * ``chunked``: the body uses ``Transfer-Encoding: chunked``.
    * ``upgrade``: the ``Upgrade`` header's value when the request proposes a protocol switch
      (``CONNECT`` requests are recognised by ``method``).
    """

    method: bytes
    target: bytes
    version: bytes
    headers: RawHeaders
    keep_alive: bool
    expect_continue: bool
    content_length: int | None
    chunked: bool
    upgrade: bytes | None

    @property
    def has_body(self) -> bool:
        """Whether body bytes follow the head."""
        return self.chunked or bool(self.content_length)


# A RequestHead without the frozen dataclass constructor (one object.__setattr__ look-up and
# call per field, about twice the cost): the slots' own setters, for the server codecs that
# make one per request. Same object, same immutability afterwards.
_HEAD_SETTERS = tuple(
    getattr(RequestHead, name).__set__
    for name in (
        "method",
        "target",
        "version",
        "headers",
        "keep_alive",
        "expect_continue",
        "content_length",
        "chunked",
        "upgrade",
    )
)
_new_head = object.__new__


def make_request_head(
    method: bytes,
    target: bytes,
    version: bytes,
    headers: RawHeaders,
    keep_alive: bool,
    expect_continue: bool,
    content_length: int | None,
    chunked: bool,
    upgrade: bytes | None,
) -> RequestHead:
    """``RequestHead(...)`` with the same positional arguments, made faster (see above)."""
    head: RequestHead = _new_head(RequestHead)
    s_method, s_target, s_version, s_headers, s_keep, s_expect, s_length, s_chunked, s_up = (
        _HEAD_SETTERS
    )
    s_method(head, method)
    s_target(head, target)
    s_version(head, version)
    s_headers(head, headers)
    s_keep(head, keep_alive)
    s_expect(head, expect_continue)
    s_length(head, content_length)
    s_chunked(head, chunked)
    s_up(head, upgrade)
    return head


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """A received final response head (client side, status ``>= 200``, or ``101``).

    ``content_length`` / ``chunked`` describe the body framing; a response without a body
    (``HEAD``, ``204``, ``304``, a ``2xx`` to ``CONNECT``, ``101``) has ``has_body`` false. A
    body without either is delimited by the connection closing.
    """

    status: int
    reason: bytes
    version: bytes
    headers: RawHeaders
    keep_alive: bool
    content_length: int | None
    chunked: bool
    has_body: bool


# The same for ResponseHead: the client codecs make one per response.
_RESPONSE_HEAD_SETTERS = tuple(
    getattr(ResponseHead, name).__set__
    for name in (
        "status",
        "reason",
        "version",
        "headers",
        "keep_alive",
        "content_length",
        "chunked",
        "has_body",
    )
)


def make_response_head(
    status: int,
    reason: bytes,
    version: bytes,
    headers: RawHeaders,
    keep_alive: bool,
    content_length: int | None,
    chunked: bool,
    has_body: bool,
) -> ResponseHead:
    """``ResponseHead(...)`` with the same positional arguments, made faster (see above)."""
    head: ResponseHead = _new_head(ResponseHead)
    s_status, s_reason, s_version, s_headers, s_keep, s_length, s_chunked, s_body = (
        _RESPONSE_HEAD_SETTERS
    )
    s_status(head, status)
    s_reason(head, reason)
    s_version(head, version)
    s_headers(head, headers)
    s_keep(head, keep_alive)
    s_length(head, content_length)
    s_chunked(head, chunked)
    s_body(head, has_body)
    return head


@dataclass(frozen=True, slots=True)
class InformationalHead:
    """A received ``1xx`` interim response other than ``101`` (``100 Continue``, ``103``)."""

    status: int
    reason: bytes
    headers: RawHeaders


@dataclass(frozen=True, slots=True)
class BodyData:
    """A piece of a message body, transfer coding removed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    """The message body is complete; ``trailers`` holds the trailer fields (often empty)."""

    trailers: RawHeaders


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer finished sending; ``complete`` is false when it stopped inside a message."""

    complete: bool = True


@dataclass(frozen=True, slots=True)
class CodecError:
    """The peer broke the protocol; the connection must be closed after this."""

    error: HttpProtocolError


ServerEvent: TypeAlias = (
    RequestHead | BodyData | EndOfMessage | ConnectionClosed | CodecError | CodecSignal
)
"""What :meth:`Http1ServerCodec.next_event` returns."""

ClientEvent: TypeAlias = (
    ResponseHead
    | InformationalHead
    | BodyData
    | EndOfMessage
    | ConnectionClosed
    | CodecError
    | CodecSignal
)
"""What :meth:`Http1ClientCodec.next_event` returns."""


@runtime_checkable
class Http1ServerCodec(Protocol):
    """The server side of an HTTP/1.1 connection, sans-IO.

    One exchange at a time: after a request's :class:`EndOfMessage` the codec returns
    :data:`PAUSED` until the response is complete (:meth:`send_end`), then parses the next
    pipelined request from what it buffered.

    Optional, for the server driver's fast paths: a class attribute ``EMPTY_END_IMPLIED``
    (true: the driver need not ask for the ``EndOfMessage`` of a request without a body),
    ``send_whole`` (a whole in-memory response in one call), and ``buffered()`` with
    ``receive_next()`` (push mode). The built-in codecs have all four.
    """

    def receive(self, data: bytes, /) -> None:
        """Buffer bytes received from the client; ``b""`` means the client finished sending."""
        ...

    def next_event(self) -> ServerEvent:
        """Parse and return the next event (see the module docs)."""
        ...

    @property
    def keep_alive(self) -> bool:
        """Whether the connection can carry another request after the current exchange."""
        ...

    @property
    def request_complete(self) -> bool:
        """Whether the current request has been received to its :class:`EndOfMessage`."""
        ...

    @property
    def response_started(self) -> bool:
        """Whether the current response's head has been produced by :meth:`send_response`."""
        ...

    @property
    def response_has_body(self) -> bool:
        """Whether the current response carries body bytes (false for HEAD, 204, 304, ...)."""
        ...

    def send_informational(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """Encode a ``1xx`` interim response (``100``, ``103``; ``101`` switches protocols)."""
        ...

    def send_response(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        *,
        reason: bytes | None = None,
        content_length: int | None = None,
        close: bool = False,
        date: bytes | None = None,
        server: bytes | None = None,
    ) -> bytes:
        """Encode the final response head.

        *content_length* is the body size when known (used for ``Content-Length`` if the
        headers set no framing); *close* ends the connection after this response. *date* and
        *server* are field values the head gets as ``Date`` / ``Server`` unless the headers
        have their own (the driver passes them as configured; none on a switch to a tunnel).
        """
        ...

    def send_data(self, data: bytes, /) -> bytes:
        """Encode a piece of the response body."""
        ...

    def send_end(self, trailers: Sequence[tuple[bytes, bytes]] = (), /) -> bytes:
        """Encode the end of the response body (trailers need chunked framing)."""
        ...

    def take_switched(self) -> bytes:
        """After a switching response was sent: the buffered bytes of the new protocol."""
        ...


@runtime_checkable
class Http1ClientCodec(Protocol):
    """The client side of an HTTP/1.1 connection, sans-IO, one exchange at a time."""

    def receive(self, data: bytes, /) -> None:
        """Buffer bytes received from the server; ``b""`` means the server finished sending."""
        ...

    def next_event(self) -> ClientEvent:
        """Parse and return the next event (see the module docs)."""
        ...

    @property
    def is_reusable(self) -> bool:
        """Whether the exchange is complete on both sides and the connection may be reused."""
        ...

    @property
    def request_complete(self) -> bool:
        """Whether the request (head, body and end) has been produced."""
        ...

    def send_request(
        self,
        method: bytes,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        *,
        content_length: int | None = None,
    ) -> bytes:
        """Encode the request head; *content_length* is the body size when known."""
        ...

    def send_data(self, data: bytes, /) -> bytes:
        """Encode a piece of the request body."""
        ...

    def send_end(self, trailers: Sequence[tuple[bytes, bytes]] = (), /) -> bytes:
        """Encode the end of the request body."""
        ...

    def take_switched(self) -> bytes:
        """After a switching response was received: the buffered bytes of the new protocol."""
        ...

    def abandon(self) -> None:
        """Give up on the current exchange: the connection will not be reused."""
        ...
