"""to_curl: the curl command line that sends the same request."""

from __future__ import annotations

import shlex
from typing import Final

from pyrama_core.errors import PyramaError
from pyrama_http_types import Body, Method, Request, Version
from pyrama_net import ProxyAddress
from pyrama_tls import NegotiatedTls

__all__ = ["DEFAULT_CURL_MAX_BODY", "CurlExportError", "to_curl"]

DEFAULT_CURL_MAX_BODY: Final = 64 * 1024
"""The largest body :func:`to_curl` writes into the command (bigger ones are left out)."""

_VERSION_FLAGS: Final = {
    Version.HTTP_09: "--http0.9",
    Version.HTTP_10: "--http1.0",
    Version.HTTP_11: "--http1.1",
    Version.HTTP_3: "--http3",
}
# fields curl sends by itself unless told otherwise
_CURL_DEFAULTS: Final = ("User-Agent", "Accept")
_GLOB_CHARS: Final = frozenset("[]{}")


class CurlExportError(PyramaError, ValueError):
    """A request cannot be written as a curl command (no URL can be made for it)."""


def request_url(request: Request, scheme: str | None = None) -> str:
    """The absolute URL of *request* (its URI, else scheme + ``Host`` + target)."""
    uri = request.uri
    if uri.is_absolute:
        return str(uri)
    host = request.headers.get("host")
    if host is None and uri.authority_text is not None:
        host = uri.authority_text
    if host is None:
        raise CurlExportError(
            f"{request.method} {uri}: no absolute URI and no Host field to make a URL from"
        )
    if scheme is None:
        scheme = "https" if request.extensions.get(NegotiatedTls) is not None else "http"
    path = uri.path_and_query if uri.form.value == "origin" else "/"
    return f"{scheme}://{host}{path}"


def _header_arg(name: str, value: str) -> str:
    # curl: "Name: value" sends the field, "Name;" sends it with an empty value
    return f"{name};" if value == "" else f"{name}: {value}"


def _printf_format(data: bytes) -> str:
    """A POSIX ``printf`` format that prints exactly *data* (octal escapes, no NUL issue)."""
    out: list[str] = []
    for i, b in enumerate(data):
        if b == 0x2D and i == 0:  # a leading "-" would be read as an option by printf
            out.append("\\055")
        elif b == 0x25:  # %
            out.append("%%")
        elif b == 0x5C:  # backslash
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    return "".join(out)


def _body_bytes(request: Request) -> tuple[bytes | None, str | None]:
    """The body to replay and why it is missing; an in-memory body is put back intact."""
    body = request.body
    if body.is_consumed:
        return None, "the body was already read; it is not in this command"
    if body.is_empty:
        return b"", None
    if not body.is_in_memory:
        size = "unknown size" if body.size_hint is None else f"{body.size_hint} bytes"
        return None, f"the body is a stream ({size}) that cannot be replayed; it is left out"
    trailers = None
    data = body.try_take_bytes()
    if data is None:
        return None, "the body is over its own limit; it is left out"
    try:
        trailers = body.trailers
    except Exception:
        trailers = None
    request.body = Body.from_bytes(data, trailers=trailers)
    return data, None


def to_curl(
    request: Request,
    *,
    max_body: int = DEFAULT_CURL_MAX_BODY,
    body: bytes | None = None,
    scheme: str | None = None,
    multiline: bool = False,
    include_version: bool = True,
    proxy: ProxyAddress | str | None = None,
) -> str:
    """The ``curl`` command that sends *request* again: method, URL, fields, body, version.

    * The URL is the request's absolute URI, else made of *scheme* (default ``https`` when
      the request came over TLS, else ``http``), the ``Host`` field and the target.
    * Header fields follow in their order with their case (``-H``); curl's own
      ``User-Agent``/``Accept`` are removed when the request has none, and so are the
      ``Content-Type`` and ``Expect`` curl would add to a body. (curl always sends ``Host``
      first, spelled ``Host``: on HTTP/1.1 a Host field elsewhere moves to the front.)
    * The version becomes ``--http1.0``/``--http1.1``/``--http2`` (``--http2-prior-knowledge``
      for ``http://``)/``--http3``; ``HEAD`` is ``--head``, other methods ``-X``.
    * An in-memory body (or *body*) of at most *max_body* bytes goes in with
      ``--data-binary``, shell-quoted; a binary one (NUL, control bytes, not UTF-8) is piped
      in from ``printf`` (``printf '...' | curl --data-binary @- ...``). A bigger body, or a
      stream that cannot be replayed, is left out and a ``# note:`` line says so. An
      in-memory body is put back unread, so the request can still be sent.

    Every argument is quoted with :func:`shlex.quote`: the command is safe to paste into a
    POSIX shell. *multiline* puts each option on its own continued line;
    ``include_version=False`` leaves the version to curl's own choice. The request's
    :class:`~pyrama_net.ProxyAddress` extension (or *proxy*) becomes ``--proxy`` (with
    ``--proxy-user`` for its credentials).
    """
    if max_body < 0:
        raise ValueError(f"max_body must be >= 0, got {max_body}")
    notes: list[str] = []
    url = request_url(request, scheme)
    args: list[str] = ["curl"]
    version = request.version
    if not include_version:
        pass
    elif version is Version.HTTP_2:
        args.append("--http2-prior-knowledge" if url.startswith("http://") else "--http2")
    else:
        args.append(_VERSION_FLAGS[version])
    data, why = (body, None) if body is not None else _body_bytes(request)
    if why is not None:
        notes.append(why)
    if data is not None and len(data) > max_body:
        notes.append(f"the body ({len(data)} bytes) is over max_body={max_body}; it is left out")
        data = None
    has_body = bool(data)
    method = request.method
    if method == Method.HEAD and not has_body:
        args.append("--head")
    elif not ((method == Method.GET and not has_body) or (method == Method.POST and has_body)):
        args += ["-X", str(method)]
    path = url.split("://", 1)[-1].partition("/")[2]
    if "/./" in f"/{path}" or "/../" in f"/{path}" or path.endswith(("/.", "/..")):
        args.append("--path-as-is")
    if _GLOB_CHARS & set(url):
        args.append("--globoff")
    headers = request.headers
    present = {n.lower() for n in headers.names()}
    for default in _CURL_DEFAULTS:
        if default.lower() not in present:
            args += ["-H", f"{default}:"]
    names = headers.names()
    if version.is_http1 and "host" in present and names and names[0].lower() != "host":
        notes.append("curl sends Host first; it moves to the front")
    for raw_name, raw_value in headers.raw_items():
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        args += ["-H", _header_arg(name, value)]
    if has_body:
        if "content-type" not in present:
            args += ["-H", "Content-Type:"]
        if "expect" not in present:
            args += ["-H", "Expect:"]
    pipe: str | None = None
    if has_body:
        assert data is not None
        text = _printable(data)
        if text is None:
            pipe = f"printf {shlex.quote(_printf_format(data))}"
            args += ["--data-binary", "@-"]
        elif text.startswith("@"):
            args += ["--data-raw", text]
        else:
            args += ["--data-binary", text]
    if proxy is None:
        proxy = request.extensions.get(ProxyAddress)
    if isinstance(proxy, ProxyAddress):
        cred = proxy.credential
        args += ["--proxy", f"{proxy.protocol}://{proxy.authority}"]
        if cred is not None:
            args += ["--proxy-user", f"{cred.username}:{cred.password}"]
    elif proxy is not None:
        args += ["--proxy", proxy]
    args.append(url)
    quoted = [shlex.quote(a) for a in args]
    if multiline:
        lines: list[str] = [quoted[0]]
        i = 1
        while i < len(quoted):
            a = quoted[i]
            if a.startswith("-") and i + 1 < len(quoted) - 1 and not quoted[i + 1].startswith("-"):
                lines.append(f"{a} {quoted[i + 1]}")
                i += 2
            else:
                lines.append(a)
                i += 1
        command = " \\\n  ".join(lines)
    else:
        command = " ".join(quoted)
    if pipe is not None:
        command = f"{pipe} | {command}"
    return "".join(f"# note: {n}\n" for n in notes) + command


def _printable(data: bytes) -> str | None:
    """*data* as text if it survives a shell argument unchanged (UTF-8, no NUL/controls)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any((ord(c) < 0x20 and c not in "\t\n\r") or ord(c) == 0x7F for c in text):
        return None
    return text
