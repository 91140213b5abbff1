"""``pyrama send URL`` (or just ``pyrama URL``): a curl-like HTTP client.

Sends one request with pyrama's own HTTP client (:class:`~pyrama_http.HttpClient` over
:class:`~pyrama_http.EasyHttpWebClient`) and writes the response body to standard output.
The flags follow curl's: ``-X``, ``-H`` (repeatable; the case and order of the fields are
kept on the wire), ``-d``/``--data-binary``/``--json``, ``-i``, ``-I``, ``-v``, ``-o``,
``-k``, ``--cacert``, ``-m``, ``--connect-timeout``, ``--http1.1``, ``--http2``,
``--http2-prior-knowledge``, ``-f``, ``-L``, ``-u``, ``-A``, ``-s``/``-S``, ``-F`` (multipart
form). ``--curl`` prints the equivalent curl command instead of sending; ``--har FILE``
records the exchanges as HAR 1.2. The exit codes are curl's too (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final

if TYPE_CHECKING:
    from pyrama_core import Service
    from pyrama_http import ClientResponse, HttpClient
    from pyrama_http.curl import MultipartForm
    from pyrama_http.har import HarRecorder
    from pyrama_http.layer import DecodedContent
    from pyrama_http_types import Request, Response
    from pyrama_net import ProxyAddress

__all__ = [
    "EXIT_CODES",
    "SendError",
    "build_request_headers",
    "exit_code_for",
    "looks_like_url",
    "normalize_url",
    "register",
    "shortcut_argv",
]

EXIT_CODES: Final[dict[int, str]] = {
    0: "success",
    1: "unsupported protocol (a scheme other than http or https)",
    2: "usage error (bad flags)",
    3: "malformed URL",
    6: "could not resolve the host",
    7: "could not connect",
    8: "the server's reply was not valid HTTP",
    16: "HTTP/2 error (connection level)",
    18: "partial transfer: the connection ended before the whole body arrived",
    22: "HTTP status >= 400 with --fail",
    23: "could not write the output",
    26: "could not read the request data (-d @file)",
    28: "timed out (--max-time, --connect-timeout)",
    35: "TLS handshake failed",
    47: "too many redirects (--max-redirs)",
    52: "empty reply from the server",
    56: "failure receiving data from the server",
    60: "the server's certificate could not be verified",
    92: "HTTP/2 stream error (the server reset the request)",
}
"""The exit codes of ``pyrama send``: curl's numbers for the same failures."""

_DEFAULT_ACCEPT: Final = "*/*"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


class SendError(Exception):
    """A failure of ``pyrama send`` with the exit code it maps to (curl's numbering)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- the URL ----------------------------------------------------------------------------------


def looks_like_url(arg: str) -> bool:
    """Whether a first command-line argument is a URL for the ``pyrama URL`` shortcut.

    True for anything with ``://``, anything starting with ``http`` and the ``:PORT/path``
    shorthand (``127.0.0.1:PORT``). Commands never look like that.
    """
    return "://" in arg or arg.startswith(("http", ":"))


def shortcut_argv(argv: Sequence[str], top_level_flags: frozenset[str]) -> list[str]:
    """*argv* with ``send`` put first when it is the ``pyrama [FLAGS] URL`` shortcut.

    That is when the first argument looks like a URL, or it is a flag the top-level parser
    does not know (``pyrama -v https://...``) and some later argument looks like a URL.
    """
    args = list(argv)
    if not args:
        return args
    first = args[0]
    if looks_like_url(first):
        return ["send", *args]
    if (
        first.startswith("-")
        and first.split("=", 1)[0] not in top_level_flags
        and any("://" in a or a.startswith(":") for a in args[1:])
    ):
        return ["send", *args]
    return args


def normalize_url(text: str) -> str:
    """*text* as an absolute ``http(s)://`` URL, or :class:`SendError` (exit 1 or 3).

    Without a scheme ``http://`` is assumed (like curl); ``:8080/path`` is
    ``http://127.0.0.1:8080/path``. Other schemes are refused with exit code 1 and URLs
    without a host or with a bad port with exit code 3.
    """
    url = text.strip()
    if not url or any(c in url for c in " \t\r\n"):
        raise SendError(3, f"URL rejected: malformed URL {text!r}")
    if url.startswith(":"):
        url = "http://127.0.0.1" + url
    elif "://" not in url:
        url = "http://" + url
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise SendError(1, f'Protocol "{scheme}" not supported')
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SendError(3, f"URL rejected: {exc}: {text!r}") from None
    if not parts.hostname:
        raise SendError(3, f"URL rejected: no host in {text!r}")
    if port == 0:
        raise SendError(3, f"URL rejected: port 0 in {text!r}")
    return url


# -- the request ------------------------------------------------------------------------------


def _parse_header(text: str) -> tuple[str, str | None]:
    """One ``-H`` value as curl reads it: (name, value), value ``None`` to remove the field.

    ``"Name: value"`` sends it, ``"Name:"`` removes a default field, ``"Name;"`` sends it empty.
    """
    if ":" in text:
        name, _, value = text.partition(":")
        value = value.strip(" \t")
        if not name or name != name.strip():
            raise SendError(2, f"bad header {text!r}: the name is empty or padded")
        return name, (value if value else None)
    if text.endswith(";") and len(text) > 1:
        return text[:-1], ""
    raise SendError(2, f"bad header {text!r}: give 'Name: value' (or 'Name;' for empty)")


def build_request_headers(
    user: Sequence[str],
    *,
    user_agent: str | None,
    accept: str | None = _DEFAULT_ACCEPT,
    content_type: str | None = None,
) -> list[tuple[str, str]]:
    """The request's header fields, in wire order, as curl would send them.

    ``User-Agent`` and ``Accept`` come first unless the user gives their own (which then
    stand where the user put them) or removes them (``-H "Accept:"``); the user's fields
    follow in their order and case; ``Content-Type`` for a body comes last unless given.
    """
    parsed = [_parse_header(h) for h in user]
    given = {name.lower() for name, _ in parsed}
    out: list[tuple[str, str]] = []
    if user_agent is not None and "user-agent" not in given:
        out.append(("User-Agent", user_agent))
    if accept is not None and "accept" not in given:
        out.append(("Accept", accept))
    for name, value in parsed:
        if value is not None:
            out.append((name, value))
    if content_type is not None and "content-type" not in given:
        out.append(("Content-Type", content_type))
    return out


def _read_data(arg: str, *, strip_newlines: bool) -> bytes:
    if not arg.startswith("@"):
        return arg.encode("utf-8", "surrogateescape")
    path = arg[1:]
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        raise SendError(26, f"Failed to open/read local data from file {path!r}: {exc}") from exc
    if strip_newlines:
        data = data.replace(b"\r", b"").replace(b"\n", b"")
    return data


def _form(specs: Sequence[str]) -> MultipartForm | None:
    """The multipart form of the ``-F`` arguments (curl's syntax), or ``None``."""
    if not specs:
        return None
    from pyrama_http.curl import MultipartForm, MultipartFormError

    form = MultipartForm()
    for spec in specs:
        try:
            form.add_curl_spec(spec)
        except MultipartFormError as exc:
            code = 26 if isinstance(exc.__cause__, OSError) else 2
            raise SendError(code, str(exc)) from exc
    return form


@dataclass
class _Plan:
    """What to send, worked out from the flags."""

    url: str
    method: str
    headers: list[tuple[str, str]]
    body: bytes | None
    basic: tuple[str, str] | None = None
    content_type: str | None = None
    """The Content-Type this tool adds for a body (sent only while there is one)."""


def _plan(args: argparse.Namespace) -> _Plan:
    url = normalize_url(args.url)
    data_parts: list[bytes] = []
    for kind, value in args.data or []:
        if kind == "data":
            data_parts.append(_read_data(value, strip_newlines=True))
        elif kind == "binary":
            data_parts.append(_read_data(value, strip_newlines=False))
        else:
            data_parts.append(value.encode("utf-8", "surrogateescape"))
    json_parts = [_read_data(v, strip_newlines=False) for v in args.json or []]
    if data_parts and json_parts:
        raise SendError(2, "--json cannot be combined with -d/--data*")
    form = _form(args.form or [])
    if form is not None and (data_parts or json_parts):
        raise SendError(2, "-F/--form cannot be combined with -d/--data* or --json")
    body: bytes | None = None
    content_type = None
    accept: str | None = _DEFAULT_ACCEPT
    if data_parts:
        body = b"&".join(data_parts)
        content_type = "application/x-www-form-urlencoded"
    elif json_parts:
        body = b"".join(json_parts)
        content_type = "application/json"
        accept = "application/json"
    elif form is not None:
        body = form.encode()
        content_type = form.content_type
    if args.head:
        method = "HEAD"
    elif body is not None:
        method = "POST"
    else:
        method = "GET"
    if args.request:
        method = args.request
    user_agent = args.user_agent
    if user_agent is None:
        from pyrama_http import DEFAULT_USER_AGENT

        user_agent = DEFAULT_USER_AGENT
    headers = build_request_headers(args.header or [], user_agent=user_agent, accept=accept)
    if content_type is not None and any(
        name.lower() == "content-type" for name, _ in map(_parse_header, args.header or [])
    ):
        content_type = None  # the user's own (or removed) Content-Type wins
    basic = None
    if args.user is not None:
        user, _, password = args.user.partition(":")
        basic = (user, password)
    return _Plan(url, method, headers, body, basic, content_type)


# -- errors -----------------------------------------------------------------------------------


def _os_reason(exc: BaseException) -> str:
    """The OS's words for a failure (``Connection refused``) when *exc* wraps an OS error."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and isinstance(cur.errno, int):
            return os.strerror(cur.errno)
        if isinstance(cur, BaseExceptionGroup) and cur.exceptions:
            cur = cur.exceptions[0]
        else:
            cur = cur.__cause__ or cur.__context__
    return str(exc)


def exit_code_for(exc: BaseException, *, target: str = "", transfer: bool = False) -> SendError:
    """The :class:`SendError` (curl exit code and message) for a failure of the exchange.

    *target* (``host:port``) goes into the messages; *transfer* says the failure happened
    while the response body was being read (partial transfer rather than no reply).
    """
    from pyrama_http import ProxyConnectError
    from pyrama_http.errors import InvalidRequestError, ProtocolNegotiationError
    from pyrama_http_core.errors import (
        ConnectionClosedError,
        H2GoAwayError,
        H2StreamResetError,
        HttpProtocolError,
    )
    from pyrama_http_types.errors import BodyError, HttpError
    from pyrama_net.errors import ConnectError, DnsError
    from pyrama_tls.errors import CertificateVerifyError, TlsHandshakeError

    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, TimeoutError):  # every pyrama timeout error is also a TimeoutError
        return SendError(28, f"Operation timed out: {exc}")
    if isinstance(exc, CertificateVerifyError):
        return SendError(60, f"SSL certificate problem: {exc}")
    if isinstance(exc, TlsHandshakeError):
        return SendError(35, f"TLS connect error: {exc}")
    if isinstance(exc, DnsError):
        host = target.rpartition(":")[0] or target
        return SendError(6, f"Could not resolve host: {host} ({exc})")
    if isinstance(exc, ProxyConnectError) and exc.status is not None:
        return SendError(56, f"CONNECT tunnel failed, response {exc.status}")
    if isinstance(exc, ConnectError):
        return SendError(7, f"Failed to connect to {target}: {_os_reason(exc)}")
    if isinstance(exc, InvalidRequestError):
        return SendError(3, f"URL rejected: {exc}")
    if isinstance(exc, ProtocolNegotiationError):
        return SendError(16, f"HTTP/2 not agreed: {exc}")
    if isinstance(exc, H2StreamResetError):
        return SendError(92, f"HTTP/2 stream was reset: {exc}")
    if isinstance(exc, H2GoAwayError):
        return SendError(16, f"HTTP/2 connection closed (GOAWAY): {exc}")
    if isinstance(exc, ConnectionClosedError):
        if transfer:
            return SendError(18, f"transfer closed with outstanding read data remaining: {exc}")
        return SendError(52, f"Empty reply from server: {exc}")
    if isinstance(exc, HttpProtocolError):
        return SendError(18 if transfer else 8, f"Weird server reply: {exc}")
    if isinstance(exc, BodyError):
        return SendError(18, f"transfer failed: {exc}")
    if isinstance(exc, HttpError):
        return SendError(3, f"URL rejected: {exc}")
    if isinstance(exc, OSError):
        if transfer:
            return SendError(56, f"Failure when receiving data from the peer: {exc}")
        return SendError(7, f"Failed to connect to {target}: {exc}")
    return SendError(56, f"{type(exc).__name__}: {exc}")


# -- output -----------------------------------------------------------------------------------


def _status_line(response: ClientResponse) -> str:
    from pyrama_http_types import Version

    status = int(response.status)
    if response.version is Version.HTTP_2:
        return f"HTTP/2 {status}"
    return f"{response.version} {status} {response.status.reason_phrase}".rstrip()


def _head_text(response: ClientResponse) -> str:
    lines = [_status_line(response)]
    for name, value in response.headers.raw_items():
        lines.append(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
    decoded = _decoded_content(response)
    if decoded is not None:  # --compressed: show the fields the decoder took off the head
        lines.append(f"content-encoding: {', '.join(decoded.encodings)}")
        if decoded.content_length is not None:
            lines.append(f"content-length: {decoded.content_length}")
    return "\r\n".join(lines) + "\r\n\r\n"


def _decoded_content(response: ClientResponse) -> DecodedContent | None:
    from pyrama_http.layer import DecodedContent

    return response.extensions.get(DecodedContent)


def _verbose_exchange(request: Request, body: bytes | None, response: ClientResponse) -> None:
    """Print the connection facts and both heads to stderr, curl ``-v`` style."""
    from pyrama_http_types import Version
    from pyrama_net import SocketInfo
    from pyrama_tls import NegotiatedTls

    err = sys.stderr
    ext = response.extensions
    info = ext.get(SocketInfo)
    uri = request.uri
    if info is not None and isinstance(info.peer, tuple):
        print(f"* Connected to {uri.host} ({info.peer[0]}) port {info.peer[1]}", file=err)
    tls = ext.get(NegotiatedTls)
    if tls is not None:
        print(
            f"* TLS: {tls.version} / {tls.cipher}; ALPN: {tls.alpn or '-'}; "
            f"SNI: {tls.server_name or '-'}",
            file=err,
        )
        leaf = tls.peer_certificate
        if leaf is not None:
            from cryptography import x509

            print(f"*  subject: {leaf.subject.rfc4514_string()}", file=err)
            print(f"*  issuer: {leaf.issuer.rfc4514_string()}", file=err)
            print(f"*  expire date: {leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC", file=err)
            try:
                san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            except x509.ExtensionNotFound:
                pass
            else:
                names = [str(n.value) for n in san.value]
                print(f"*  subjectAltName: {', '.join(names)}", file=err)
    h2 = response.version is Version.HTTP_2
    version = "HTTP/2" if h2 else str(request.version)
    print(f"> {request.method} {uri.path_and_query} {version}", file=err)
    headers = request.headers
    if "host" not in headers and uri.authority_text is not None:
        print(f"> Host: {uri.authority_text}", file=err)
    for name, value in headers.raw_items():
        print(f"> {name.decode('latin-1')}: {value.decode('latin-1')}", file=err)
    if body and "content-length" not in headers:
        print(f"> Content-Length: {len(body)}", file=err)
    print(">", file=err)
    for line in _head_text(response).rstrip("\r\n").split("\r\n"):
        print(f"< {line}", file=err)
    print("<", file=err)


# -- the exchange -----------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> HttpClient:
    from pyrama_http import EasyHttpWebClient, HttpClient, HttpVersionPolicy

    policy = {
        None: HttpVersionPolicy.AUTO,
        "1.1": HttpVersionPolicy.HTTP1_ONLY,
        "2": HttpVersionPolicy.AUTO,
        "2-prior-knowledge": HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE,
    }[args.http_version]
    settings: dict[str, Any] = {
        "version_policy": policy,
        "user_agent": None,  # the request carries it (or the user removed it)
        "max_retries": 0,
        "max_connections": 4,
    }
    if args.connect_timeout is not None:
        settings["connect_timeout"] = args.connect_timeout
    if args.max_time is not None:
        settings["request_timeout"] = args.max_time
    if args.insecure:
        settings["insecure"] = True
    if args.cacert is not None:
        settings["ca_file"] = args.cacert
    proxy = _proxy(args)
    if proxy is not None:
        settings["proxy"] = proxy
    if args.har is not None:  # --har FILE: record every exchange (written at the end)
        from pyrama_http.har import HarRecorderLayer

        layer = HarRecorderLayer()
        args.har_recorder = layer.recorder
        return HttpClient(_compressed(args, layer.layer(EasyHttpWebClient(**settings))))
    return HttpClient(_compressed(args, EasyHttpWebClient(**settings)))


def _compressed(args: argparse.Namespace, svc: Service[Request, Response]) -> Any:
    """*svc* with response decompression when ``--compressed`` was given."""
    if not args.compressed:
        return svc
    from pyrama_http.layer import DecompressionLayer

    return DecompressionLayer().layer(svc)


def _proxy(args: argparse.Namespace) -> ProxyAddress | None:
    """The ``-x/--proxy`` address with the ``-U/--proxy-user`` credentials, if given."""
    import dataclasses

    from pyrama_net import Basic, ProxyAddress

    if args.proxy is None:
        if args.proxy_user is not None:
            raise SendError(2, "-U/--proxy-user needs -x/--proxy")
        return None
    try:
        proxy = ProxyAddress.parse(args.proxy)
    except ValueError as exc:
        raise SendError(5, f"Unsupported proxy syntax: {exc}") from None
    if proxy.protocol.scheme not in ("http", "https", "socks5", "socks5h"):
        raise SendError(5, f"Unsupported proxy scheme {proxy.protocol.scheme!r}")
    if args.proxy_user is not None:
        text = args.proxy_user if ":" in args.proxy_user else args.proxy_user + ":"
        try:
            cred = Basic.parse(text)
        except ValueError as exc:
            raise SendError(2, f"-U/--proxy-user: {exc}") from None
        proxy = dataclasses.replace(proxy, credential=cred)
    return proxy


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def _target_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _redirect(
    response: ClientResponse, method: str, body: bytes | None
) -> tuple[str, str, bytes | None] | None:
    """(url, method, body) of the redirect *response* asks for, if it is one."""
    status = int(response.status)
    location = response.headers.get("location")
    if status not in _REDIRECTS or not location:
        return None
    url = urllib.parse.urljoin(str(response.url), location)
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return url, "GET", None
    return url, method, body


async def _write_body(response: ClientResponse, out: BinaryIO) -> None:
    async for chunk in response.stream():
        try:
            out.write(chunk)
            out.flush()
        except OSError as exc:
            raise SendError(23, f"Failure writing output to destination: {exc}") from exc


async def _exchange(args: argparse.Namespace, plan: _Plan, out: BinaryIO) -> int:
    client = _client(args)
    url, method, body = plan.url, plan.method, plan.body
    basic = plan.basic
    redirects = 0
    async with client:
        while True:
            builder = client.request(method, url).headers(plan.headers)
            if body is not None:
                builder.body(body)
                if plan.content_type is not None:
                    builder.header("Content-Type", plan.content_type)
            if basic is not None:
                builder.basic_auth(*basic)
            target = _target_of(url)
            try:
                request = builder.build()
                if args.curl:  # --curl: print the equivalent curl command instead
                    return _print_curl(args, request, out)
                response = await client.send(request)
            except Exception as exc:
                raise exit_code_for(exc, target=target) from exc
            if args.verbose:
                _verbose_exchange(request, body, response)
            if args.include or args.head:
                _write_head(out, response)
            nxt = _redirect(response, method, body) if args.location else None
            if nxt is not None:
                await response.aclose()
                redirects += 1
                if redirects > args.max_redirs:
                    raise SendError(47, f"Maximum ({args.max_redirs}) redirects followed")
                if _origin(nxt[0]) != _origin(url):
                    basic = None  # like curl: credentials do not follow to another host
                url, method, body = nxt
                continue
            if args.fail and int(response.status) >= 400:
                await response.aclose()
                raise SendError(22, f"The requested URL returned error: {int(response.status)}")
            try:
                await _write_body(response, out)
            except SendError:
                raise
            except Exception as exc:
                raise exit_code_for(exc, target=target, transfer=True) from exc
            return 0


def _print_curl(args: argparse.Namespace, request: Request, out: BinaryIO) -> int:
    """Write the curl command for *request* (``--curl``) instead of sending it."""
    from pyrama_http.curl import to_curl
    from pyrama_http_types import Version

    flag = args.http_version
    if flag == "1.1":
        request.version = Version.HTTP_11
    elif flag is not None:
        request.version = Version.HTTP_2
    proxy = getattr(args, "proxy", None)
    text = to_curl(request, include_version=flag is not None, proxy=proxy)
    proxy_user = getattr(args, "proxy_user", None)
    if proxy is not None and proxy_user is not None:
        import shlex

        text += f" --proxy-user {shlex.quote(proxy_user)}"
    text += "\n"
    try:
        out.write(text.encode("utf-8", "surrogateescape"))
        out.flush()
    except OSError as exc:
        raise SendError(23, f"Failure writing output to destination: {exc}") from exc
    return 0


async def _recorded_exchange(args: argparse.Namespace, plan: _Plan, out: BinaryIO) -> int:
    """:func:`_exchange`, writing the ``--har`` file at the end (failures included)."""
    if args.har is None:
        return await _exchange(args, plan, out)
    try:
        return await _exchange(args, plan, out)
    finally:
        recorder: HarRecorder | None = getattr(args, "har_recorder", None)
        if recorder is not None:
            from pyrama_http.har import HarError

            try:
                recorder.write(args.har)
            except HarError as exc:
                raise SendError(23, str(exc)) from exc


def _write_head(out: BinaryIO, response: ClientResponse) -> None:
    try:
        out.write(_head_text(response).encode("latin-1", "replace"))
        out.flush()
    except OSError as exc:
        raise SendError(23, f"Failure writing output to destination: {exc}") from exc


def _run(args: argparse.Namespace) -> int:
    from pyrama.cli._runtime import event_loop_factory
    from pyrama_core.telemetry import setup_logging

    # library log lines (the -k warning...) only with -v, and never on standard output
    setup_logging("console", logging.WARNING if args.verbose else logging.CRITICAL)
    out: BinaryIO
    try:
        plan = _plan(args)
        if args.output and args.output != "-":
            try:
                out = open(args.output, "wb")  # noqa: SIM115 - closed in the finally below
            except OSError as exc:
                raise SendError(23, f"Failed to open the output file: {exc}") from exc
        else:
            out = sys.stdout.buffer
        try:
            factory, _ = event_loop_factory()
            with asyncio.Runner(loop_factory=factory) as runner:
                return runner.run(_recorded_exchange(args, plan, out))
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    except SendError as exc:
        if not args.silent or args.show_error:
            print(f"pyrama: ({exc.code}) {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


# -- the command line -------------------------------------------------------------------------

_DESCRIPTION = """\
Send one HTTP request with pyrama's HTTP client and write the response body to standard
output, like curl. HTTP/1.1 and HTTP/2: https:// offers h2 and http/1.1 by ALPN (HTTP/2
when the server agrees); http:// is HTTP/1.1 unless --http2-prior-knowledge. Header fields
go out in the order given, with the case given. `pyrama URL` is a shortcut for
`pyrama send URL`.
"""


def _epilog() -> str:
    codes = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())
    return f"""\
examples:
  pyrama https://example.com/
  pyrama send -i -H 'X-MiXeD: 1' -H 'aaa: 2' http://127.0.0.1:8080/
  pyrama :8080/api -X PUT --json '{{"a": 1}}'         127.0.0.1:8080
  pyrama -v -k --http2 https://127.0.0.1:8443/
  pyrama --http2-prior-knowledge http://127.0.0.1:8080/
  pyrama -d @form.txt -o out.json --fail https://example.com/post

exit codes (curl's):
{codes}
"""


def _positive_seconds(text: str) -> float:
    from pyrama.cli._tls_options import positive_seconds

    return positive_seconds(text)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="http:// or https:// URL (http:// if no scheme)")
    req = p.add_argument_group("request")
    req.add_argument("-X", "--request", metavar="METHOD", help="the method (default GET/POST)")
    req.add_argument(
        "-H",
        "--header",
        metavar="'NAME: VALUE'",
        action="append",
        help="add a header field (repeatable; order and case kept); 'NAME:' removes a "
        "default one (User-Agent, Accept), 'NAME;' sends it empty",
    )
    req.add_argument(
        "-d",
        "--data",
        metavar="DATA",
        dest="data",
        action="append",
        type=lambda v: ("data", v),
        help="send DATA as the body (POST, form content type); @FILE reads a file (@- stdin) "
        "without its newlines; repeats are joined with &",
    )
    req.add_argument(
        "--data-binary",
        metavar="DATA",
        dest="data",
        action="append",
        type=lambda v: ("binary", v),
        help="like -d, but @FILE is sent exactly as it is",
    )
    req.add_argument(
        "--data-raw",
        metavar="DATA",
        dest="data",
        action="append",
        type=lambda v: ("raw", v),
        help="like -d, without the @FILE meaning",
    )
    req.add_argument(
        "--json",
        metavar="DATA",
        action="append",
        help="send DATA as JSON (POST; Content-Type and Accept application/json); @FILE reads "
        "a file",
    )
    req.add_argument(
        "-F",
        "--form",
        metavar="NAME=CONTENT",
        action="append",
        help="add a multipart/form-data part like curl (POST; repeatable): name=value, "
        "name=@file (upload), name=<file (field from a file); ;type=MIME ;filename=NAME",
    )
    req.add_argument("-u", "--user", metavar="USER:PASSWORD", help="basic authentication")
    req.add_argument("-A", "--user-agent", metavar="NAME", help="the User-Agent to send")
    req.add_argument("-I", "--head", action="store_true", help="HEAD: show the response head")
    req.add_argument("-L", "--location", action="store_true", help="follow redirects")
    req.add_argument(
        "--compressed",
        action="store_true",
        help="ask for a compressed response (gzip, deflate, br, zstd as installed) and decode it",
    )
    req.add_argument(
        "--max-redirs",
        metavar="N",
        type=int,
        default=50,
        help="with -L, at most N redirects (default 50)",
    )
    ver = p.add_argument_group("HTTP version").add_mutually_exclusive_group()
    ver.add_argument(
        "--http1.1",
        dest="http_version",
        action="store_const",
        const="1.1",
        help="HTTP/1.1 only",
    )
    ver.add_argument(
        "--http2",
        dest="http_version",
        action="store_const",
        const="2",
        help="HTTP/2 when the TLS server agrees by ALPN, else HTTP/1.1 (the default; "
        "plain http:// stays HTTP/1.1: no Upgrade)",
    )
    ver.add_argument(
        "--http2-prior-knowledge",
        dest="http_version",
        action="store_const",
        const="2-prior-knowledge",
        help="HTTP/2 without negotiation on http:// (h2c); https:// as --http2",
    )
    conn = p.add_argument_group("connection")
    conn.add_argument(
        "-k", "--insecure", action="store_true", help="do not verify the server's certificate"
    )
    conn.add_argument("--cacert", metavar="PEM", help="trust the CA certificates in this file")
    conn.add_argument(
        "-x",
        "--proxy",
        metavar="URL",
        help="go through this proxy: http://, https://, socks5://, socks5h:// "
        "(http:// if no scheme; user:pass@ in the URL or with -U)",
    )
    conn.add_argument(
        "-U", "--proxy-user", metavar="USER:PASSWORD", help="credentials for the -x proxy"
    )
    conn.add_argument(
        "-m",
        "--max-time",
        metavar="SECONDS",
        type=_positive_seconds,
        help="give up after this long (connection, request and the whole body)",
    )
    conn.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        help="give up connecting (TCP and TLS) after this long (default 30)",
    )
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", metavar="FILE", help="write the body to FILE")
    out.add_argument("-i", "--include", action="store_true", help="write the response head too")
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the connection, TLS facts and both heads on standard error",
    )
    out.add_argument(
        "-f", "--fail", action="store_true", help="exit 22 (no body) on a status >= 400"
    )
    out.add_argument(
        "--curl",
        action="store_true",
        help="print the equivalent curl command (header order and case kept) instead of "
        "sending the request",
    )
    out.add_argument(
        "--har",
        metavar="FILE",
        help="record the exchanges (redirects too) as HAR 1.2 into FILE (credentials and "
        "cookies redacted)",
    )
    out.add_argument("-s", "--silent", action="store_true", help="no error messages")
    out.add_argument(
        "-S", "--show-error", action="store_true", help="with -s, still show error messages"
    )


def _handle(args: argparse.Namespace) -> int:
    return _run(args)


def register(commands: Any) -> None:
    """Add ``send`` to the top-level *commands* sub-parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "send",
        help="send an HTTP request, like curl (also: pyrama URL)",
        description=_DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.set_defaults(handler=_handle, parser=parser)
