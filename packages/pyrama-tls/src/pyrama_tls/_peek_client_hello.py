"""peek_client_hello: read a stream's ClientHello without taking it away."""

from __future__ import annotations

import asyncio

from pyrama_core.errors import PyramaTimeoutError
from pyrama_net import BufferedStream, Stream, rewind
from pyrama_tls._client_hello import ClientHello
from pyrama_tls._client_hello_parser import (
    DEFAULT_MAX_CLIENT_HELLO_RECORDS,
    DEFAULT_MAX_CLIENT_HELLO_SIZE,
    ClientHelloReader,
)
from pyrama_tls.errors import ClientHelloError, NotTlsError

__all__ = ["DEFAULT_PEEK_TIMEOUT", "peek_client_hello"]

DEFAULT_PEEK_TIMEOUT = 10.0
"""Default seconds :func:`peek_client_hello` waits for a complete ClientHello."""


async def peek_client_hello(
    stream: Stream,
    *,
    timeout: float | None = DEFAULT_PEEK_TIMEOUT,  # noqa: ASYNC109 - bounds the peek only
    max_size: int = DEFAULT_MAX_CLIENT_HELLO_SIZE,
    max_records: int = DEFAULT_MAX_CLIENT_HELLO_RECORDS,
) -> tuple[ClientHello | None, BufferedStream]:
    """Read and parse the ClientHello at the start of *stream* without consuming it.

    Returns ``(client_hello, replay)``. *replay* is the stream to continue with: it returns
    every byte read here again, then the rest of *stream* (it is *stream* itself when that
    already is a :class:`~pyrama_net.BufferedStream`, else a :class:`~pyrama_net.PeekStream`
    over it; both stay detachable for zero-copy relays). On success the ClientHello is also
    inserted into ``replay.extensions`` (the inner stream's map).

    *client_hello* is ``None`` when the bytes are not TLS (the first bytes already tell, so
    plain HTTP is recognised after its first byte) or when the stream ends before sending
    anything; route *replay* to a plain-text service then.

    Raises :class:`~pyrama_core.errors.PyramaTimeoutError` when no complete ClientHello arrives
    within *timeout* seconds (``None``: wait without bound),
    :class:`~pyrama_tls.errors.ClientHelloTooLargeError` beyond *max_size* / *max_records*
    (see :func:`~pyrama_tls.parse_client_hello`), and
    :class:`~pyrama_tls.errors.ClientHelloError` for a malformed ClientHello or an EOF inside
    it. Read errors of *stream* propagate unchanged. Bytes read before an error stay buffered
    in *replay*.
    """
    replay = rewind(stream, b"")
    reader = ClientHelloReader(max_size=max_size, max_records=max_records)
    fed = 0
    cm = asyncio.timeout(timeout)
    try:
        async with cm:
            while True:
                have = replay.buffered()
                if have > fed:
                    data = await replay.peek(have)  # buffered already: no read happens
                    try:
                        ch = reader.feed(memoryview(data)[fed:])
                    except NotTlsError:
                        return None, replay
                    fed = have
                    if ch is not None:
                        replay.extensions.insert(ch)
                        return ch, replay
                if not await replay.fill():
                    if fed == 0:
                        return None, replay
                    raise ClientHelloError(
                        f"the stream ended after {fed} byte(s), inside the ClientHello "
                        f"(waiting for {reader.describe_missing()})",
                        offset=fed,
                    )
    except TimeoutError as exc:
        if not cm.expired():
            raise
        raise PyramaTimeoutError(
            f"no complete ClientHello within {timeout} s ({fed} byte(s) received)",
            seconds=timeout,
        ) from exc
