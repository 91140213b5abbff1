"""Server side: read the PROXY protocol header off an accepted stream, then serve the rest."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any, Generic, TypeVar

from pyrama_core import Service
from pyrama_core.errors import ConfigError
from pyrama_haproxy._decode import (
    DEFAULT_MAX_V2_PAYLOAD,
    NeedMore,
    decode_header,
    detect_header,
)
from pyrama_haproxy._header import MAX_V2_PAYLOAD_LENGTH, ProxyCommand, ProxyHeader, ProxyVersion
from pyrama_haproxy.errors import ProxyHeaderError, ProxyHeaderTimeoutError
from pyrama_net import BufferedStream, PeekStream, SocketAddress, SocketInfo, Stream

__all__ = ["DEFAULT_HEADER_TIMEOUT", "HaProxyLayer", "HaProxyService", "ProxyProtocolInfo"]

T = TypeVar("T")

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a server waits for the PROXY header of a new connection, by default."""

_CHUNK = 4096


@dataclass(frozen=True, slots=True)
class ProxyProtocolInfo:
    """What :class:`HaProxyService` learned, inserted into the stream's extensions.

    :attr:`header` is the decoded header; :attr:`proxy` is the :class:`~pyrama_net.SocketInfo`
    of the connection as the OS saw it (the proxy's side), or ``None`` when the stream had
    none. The stream's :class:`~pyrama_net.SocketInfo` is replaced by one naming the original
    client and destination when the header carries them (command ``PROXY``).
    """

    header: ProxyHeader
    """The decoded PROXY protocol header."""
    proxy: SocketInfo | None
    """The socket facts of the connection from the proxy (before the header rewrote them)."""

    @property
    def client_address(self) -> SocketAddress | None:
        """The original client's IP address and port, if the header names one."""
        src = self.header.source
        if self.header.command is ProxyCommand.PROXY and isinstance(src, SocketAddress):
            return src
        return None


def _sockaddr(addr: SocketAddress | bytes) -> Any:
    if isinstance(addr, bytes):
        return os.fsdecode(addr)
    if isinstance(addr.ip, IPv4Address):
        return (str(addr.ip), addr.port)
    return (str(addr.ip), addr.port, 0, 0)


def _socket_info(header: ProxyHeader) -> SocketInfo | None:
    """The SocketInfo the original connection had, as the header tells it (or None)."""
    src, dst = header.source, header.destination
    if header.command is not ProxyCommand.PROXY or src is None or dst is None:
        return None
    if isinstance(src, bytes):
        family = socket.AF_UNIX
    else:
        family = socket.AF_INET if isinstance(src.ip, IPv4Address) else socket.AF_INET6
    return SocketInfo(local=_sockaddr(dst), peer=_sockaddr(src), family=family)


class HaProxyService(Generic[T]):
    """The service made by :class:`HaProxyLayer`: strips the header, then serves *inner*.

    See :class:`HaProxyLayer` for the behaviour; its settings are public read-only facts here.
    """

    __slots__ = ("inner", "max_v2_payload", "strict", "timeout")

    def __init__(
        self,
        inner: Service[Stream, T],
        *,
        strict: bool = True,
        timeout: float | None = DEFAULT_HEADER_TIMEOUT,
        max_v2_payload: int = DEFAULT_MAX_V2_PAYLOAD,
    ) -> None:
        _check_settings(timeout, max_v2_payload)
        self.inner = inner
        self.strict = strict
        self.timeout = timeout
        self.max_v2_payload = max_v2_payload

    async def serve(self, stream: Stream, /) -> T:
        """Read the header from *stream*, record what it says, and serve the rest with *inner*.

        Raises :class:`~pyrama_haproxy.errors.ProxyHeaderError` (after closing *stream*) when
        the header is malformed, missing in strict mode, or late.
        """
        buf = stream if isinstance(stream, BufferedStream) else PeekStream(stream)
        try:
            header, consumed = await self._read_header(buf)
        except ProxyHeaderError:
            await buf.close()
            raise
        if header is not None:
            buf.take(consumed)
            ext = stream.extensions
            ext.insert(ProxyProtocolInfo(header=header, proxy=ext.get(SocketInfo)))
            info = _socket_info(header)
            if info is not None:
                ext.insert(info)
        # else lenient without a header: every byte peeked is replayed to the inner service
        # nothing buffered: hand on the original stream (keeps its own fast paths)
        inner_stream: Stream = stream if buf is not stream and not buf.buffered() else buf
        return await self.inner.serve(inner_stream)

    async def _read_header(self, buf: BufferedStream) -> tuple[ProxyHeader | None, int]:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._decode_loop(buf)
        except TimeoutError:
            kind = detect_header(await buf.peek(buf.buffered()))
            if not self.strict and not isinstance(kind, ProxyVersion):
                return None, 0  # no PROXY signature arrived in time: a plain connection
            raise ProxyHeaderTimeoutError(
                f"no complete PROXY protocol header within {self.timeout}s",
                seconds=self.timeout,
            ) from None

    async def _decode_loop(self, buf: BufferedStream) -> tuple[ProxyHeader | None, int]:
        while True:
            data = await buf.peek(buf.buffered())
            if not self.strict:
                kind = detect_header(data)
                if kind is None:
                    return None, 0
                if isinstance(kind, NeedMore) and not await buf.fill(_CHUNK):
                    return None, 0  # EOF while still ambiguous: pass what came through
                if isinstance(kind, NeedMore):
                    continue
            if data:
                res = decode_header(data, max_v2_payload=self.max_v2_payload)
                if not isinstance(res, NeedMore):
                    return res.header, res.consumed
            if not await buf.fill(_CHUNK):
                raise ProxyHeaderError(
                    "the connection ended before its PROXY protocol header was complete"
                )

    def __repr__(self) -> str:
        return (
            f"HaProxyService({self.inner!r}, strict={self.strict}, timeout={self.timeout}, "
            f"max_v2_payload={self.max_v2_payload})"
        )


class HaProxyLayer:
    """Layer that reads a PROXY protocol header (v1 or v2) from each accepted stream.

    The decoded header goes into the stream's extensions as a :class:`ProxyProtocolInfo`; for
    a ``PROXY`` command with addresses the stream's :class:`~pyrama_net.SocketInfo` is
    replaced by one naming the original client (``peer``) and destination (``local``), so
    every service above reports the client's address, not the proxy's. ``LOCAL`` (a health
    check) and v1 ``UNKNOWN`` keep the real connection's ``SocketInfo``.

    *strict* (default) requires the header: a connection without one fails with
    :class:`~pyrama_haproxy.errors.ProxyHeaderMissingError`. Lenient mode
    (``strict=False``) passes connections that do not start with a PROXY signature to the
    inner service untouched (the bytes peeked are replayed), including ones that send
    nothing within *timeout*. *timeout* (seconds, ``None``: none) bounds the wait for the
    header; *max_v2_payload* caps the v2 length field (at most 65535).

    A bad header closes the connection and raises
    :class:`~pyrama_haproxy.errors.ProxyHeaderError` (a protocol error of the remote side),
    which listeners log in one info line while they keep serving.
    """

    __slots__ = ("max_v2_payload", "strict", "timeout")

    def __init__(
        self,
        *,
        strict: bool = True,
        timeout: float | None = DEFAULT_HEADER_TIMEOUT,
        max_v2_payload: int = DEFAULT_MAX_V2_PAYLOAD,
    ) -> None:
        _check_settings(timeout, max_v2_payload)
        self.strict = strict
        self.timeout = timeout
        self.max_v2_payload = max_v2_payload

    def layer(self, inner: Service[Stream, T], /) -> HaProxyService[T]:
        """Wrap *inner*."""
        return HaProxyService(
            inner, strict=self.strict, timeout=self.timeout, max_v2_payload=self.max_v2_payload
        )

    def __repr__(self) -> str:
        return (
            f"HaProxyLayer(strict={self.strict}, timeout={self.timeout}, "
            f"max_v2_payload={self.max_v2_payload})"
        )


def _check_settings(timeout: float | None, max_v2_payload: int) -> None:
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be > 0 seconds or None, got {timeout!r}")
    if (
        isinstance(max_v2_payload, bool)
        or not isinstance(max_v2_payload, int)
        or not 0 <= max_v2_payload <= MAX_V2_PAYLOAD_LENGTH
    ):
        raise ConfigError(
            f"max_v2_payload must be an int 0..{MAX_V2_PAYLOAD_LENGTH}, got {max_v2_payload!r}"
        )
