"""MultipartForm: ``multipart/form-data`` bodies, built like curl's ``-F``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pyrama_core.errors import PyramaError
from pyrama_http_types import Body, check_header_value

__all__ = ["FormPart", "MultipartForm", "MultipartFormError", "guess_content_type"]

# curl's own table (lib/mime.c): the extensions it knows, else application/octet-stream
_TYPES: Final = {
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".htm": "text/html",
    ".html": "text/html",
    ".pdf": "application/pdf",
    ".xml": "application/xml",
}


class MultipartFormError(PyramaError, ValueError):
    """A ``-F`` specification is malformed or its file cannot be read."""


def guess_content_type(filename: str) -> str:
    """The content type curl gives a file part named *filename*."""
    ext = os.path.splitext(filename)[1].lower()
    return _TYPES.get(ext, "application/octet-stream")


def _escape(value: str) -> str:
    # what browsers and curl do in a Content-Disposition quoted string
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclass(frozen=True, slots=True)
class FormPart:
    """One part of a form: a field (*filename* ``None``) or a file."""

    name: str
    """The field name."""
    data: bytes
    """The content."""
    filename: str | None = None
    """The file name sent for a file part."""
    content_type: str | None = None
    """The part's ``Content-Type`` (``None``: none is sent)."""

    def head(self) -> bytes:
        """The part's header block (without the boundary line)."""
        disp = f'Content-Disposition: form-data; name="{_escape(self.name)}"'
        if self.filename is not None:
            disp += f'; filename="{_escape(self.filename)}"'
        lines = [disp]
        if self.content_type is not None:
            check_header_value(self.content_type)
            lines.append(f"Content-Type: {self.content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class MultipartForm:
    """A ``multipart/form-data`` body (RFC 7578), the way curl's ``-F`` builds it.

    Add parts with :meth:`add_field` and :meth:`add_file` (or :meth:`add_curl_spec`, which
    reads curl's ``-F`` syntax); send :meth:`encode` (or :meth:`body`) with the
    :attr:`content_type` header. The boundary is random unless given.
    """

    __slots__ = ("_boundary", "_parts")

    def __init__(self, boundary: str | None = None) -> None:
        """An empty form; *boundary* defaults to curl's style (dashes and random hex)."""
        if boundary is None:
            boundary = "-" * 24 + secrets.token_hex(8)
        if not 1 <= len(boundary) <= 70 or any(c in boundary for c in "\r\n\"'"):
            raise MultipartFormError(f"invalid multipart boundary {boundary!r}")
        self._boundary = boundary
        self._parts: list[FormPart] = []

    @property
    def boundary(self) -> str:
        """The boundary between parts."""
        return self._boundary

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` value for the request."""
        return f"multipart/form-data; boundary={self._boundary}"

    @property
    def parts(self) -> list[FormPart]:
        """The parts, in order."""
        return list(self._parts)

    def add_field(
        self, name: str, value: str | bytes, *, content_type: str | None = None
    ) -> MultipartForm:
        """Add a plain field (no file name); text is sent as UTF-8."""
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        self._parts.append(FormPart(name, data, None, content_type))
        return self

    def add_file(
        self,
        name: str,
        data: bytes,
        *,
        filename: str,
        content_type: str | None = None,
    ) -> MultipartForm:
        """Add a file part; the content type is guessed from *filename* like curl does."""
        ctype = guess_content_type(filename) if content_type is None else content_type
        self._parts.append(FormPart(name, bytes(data), filename, ctype))
        return self

    def add_curl_spec(
        self, spec: str, *, read_file: Callable[[str], bytes] | None = None
    ) -> MultipartForm:
        """Add the part a curl ``-F`` argument describes.

        ``name=value`` is a field, ``name=@path`` a file upload (file name: the path's last
        component), ``name=<path`` a field whose value is the file's content; modifiers
        ``;type=MIME`` and ``;filename=NAME`` follow. *read_file* reads paths (default: the
        file system; ``-`` is standard input).
        """
        name, eq, rest = spec.partition("=")
        if not eq or not name:
            raise MultipartFormError(f"bad -F {spec!r}: give name=value, name=@file or name=<file")
        reader = _read_file if read_file is None else read_file
        if rest.startswith(("@", "<")):
            kind = rest[0]
            value, mods = _modifiers(rest[1:])
            try:
                data = reader(value)
            except OSError as exc:
                raise MultipartFormError(f"-F {spec!r}: cannot read {value!r}: {exc}") from exc
            if kind == "@":
                filename = mods.get("filename", os.path.basename(value) if value != "-" else "-")
                self.add_file(name, data, filename=filename, content_type=mods.get("type"))
            else:
                self.add_field(name, data, content_type=mods.get("type"))
            return self
        value, mods = _modifiers(rest)
        if "filename" in mods:
            self.add_file(
                name,
                value.encode("utf-8"),
                filename=mods["filename"],
                content_type=mods.get("type"),
            )
        else:
            self.add_field(name, value, content_type=mods.get("type"))
        return self

    def encode(self) -> bytes:
        """The whole body."""
        delim = b"--" + self._boundary.encode("ascii")
        out: list[bytes] = []
        for part in self._parts:
            out += [delim, b"\r\n", part.head(), part.data, b"\r\n"]
        out += [delim, b"--\r\n"]
        return b"".join(out)

    def body(self) -> Body:
        """The body as an in-memory :class:`~pyrama_http_types.Body`."""
        return Body(self.encode())

    def __repr__(self) -> str:
        return f"MultipartForm({len(self._parts)} parts, boundary={self._boundary!r})"


def _modifiers(text: str) -> tuple[str, dict[str, str]]:
    """Split ``value;type=x;filename=y`` into the value and the known modifiers."""
    value = text
    mods: dict[str, str] = {}
    while True:
        head, sep, tail = value.rpartition(";")
        if not sep:
            break
        key, eq, arg = tail.partition("=")
        key = key.strip().lower()
        if not eq or key not in ("type", "filename"):
            break
        mods.setdefault(key, arg.strip().strip('"'))
        value = head
    return value, mods


def _read_file(path: str) -> bytes:
    if path == "-":
        import sys

        return sys.stdin.buffer.read()
    with open(path, "rb") as fh:
        return fh.read()
