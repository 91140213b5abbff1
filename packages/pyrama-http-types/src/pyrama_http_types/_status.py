"""StatusCode: an HTTP response status code (``100..999``) with its reason phrase."""

from __future__ import annotations

from typing import ClassVar

from pyrama_http_types.errors import InvalidStatusCodeError

__all__ = ["StatusCode"]

_TABLE: tuple[tuple[int, str, str], ...] = (
    (100, "CONTINUE", "Continue"),
    (101, "SWITCHING_PROTOCOLS", "Switching Protocols"),
    (102, "PROCESSING", "Processing"),
    (103, "EARLY_HINTS", "Early Hints"),
    (200, "OK", "OK"),
    (201, "CREATED", "Created"),
    (202, "ACCEPTED", "Accepted"),
    (203, "NON_AUTHORITATIVE_INFORMATION", "Non-Authoritative Information"),
    (204, "NO_CONTENT", "No Content"),
    (205, "RESET_CONTENT", "Reset Content"),
    (206, "PARTIAL_CONTENT", "Partial Content"),
    (207, "MULTI_STATUS", "Multi-Status"),
    (208, "ALREADY_REPORTED", "Already Reported"),
    (226, "IM_USED", "IM Used"),
    (300, "MULTIPLE_CHOICES", "Multiple Choices"),
    (301, "MOVED_PERMANENTLY", "Moved Permanently"),
    (302, "FOUND", "Found"),
    (303, "SEE_OTHER", "See Other"),
    (304, "NOT_MODIFIED", "Not Modified"),
    (305, "USE_PROXY", "Use Proxy"),
    (307, "TEMPORARY_REDIRECT", "Temporary Redirect"),
    (308, "PERMANENT_REDIRECT", "Permanent Redirect"),
    (400, "BAD_REQUEST", "Bad Request"),
    (401, "UNAUTHORIZED", "Unauthorized"),
    (402, "PAYMENT_REQUIRED", "Payment Required"),
    (403, "FORBIDDEN", "Forbidden"),
    (404, "NOT_FOUND", "Not Found"),
    (405, "METHOD_NOT_ALLOWED", "Method Not Allowed"),
    (406, "NOT_ACCEPTABLE", "Not Acceptable"),
    (407, "PROXY_AUTHENTICATION_REQUIRED", "Proxy Authentication Required"),
    (408, "REQUEST_TIMEOUT", "Request Timeout"),
    (409, "CONFLICT", "Conflict"),
    (410, "GONE", "Gone"),
    (411, "LENGTH_REQUIRED", "Length Required"),
    (412, "PRECONDITION_FAILED", "Precondition Failed"),
    (413, "CONTENT_TOO_LARGE", "Content Too Large"),
    (414, "URI_TOO_LONG", "URI Too Long"),
    (415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type"),
    (416, "RANGE_NOT_SATISFIABLE", "Range Not Satisfiable"),
    (417, "EXPECTATION_FAILED", "Expectation Failed"),
    (418, "IM_A_TEAPOT", "I'm a teapot"),
    (421, "MISDIRECTED_REQUEST", "Misdirected Request"),
    (422, "UNPROCESSABLE_CONTENT", "Unprocessable Content"),
    (423, "LOCKED", "Locked"),
    (424, "FAILED_DEPENDENCY", "Failed Dependency"),
    (425, "TOO_EARLY", "Too Early"),
    (426, "UPGRADE_REQUIRED", "Upgrade Required"),
    (428, "PRECONDITION_REQUIRED", "Precondition Required"),
    (429, "TOO_MANY_REQUESTS", "Too Many Requests"),
    (431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "Request Header Fields Too Large"),
    (451, "UNAVAILABLE_FOR_LEGAL_REASONS", "Unavailable For Legal Reasons"),
    (500, "INTERNAL_SERVER_ERROR", "Internal Server Error"),
    (501, "NOT_IMPLEMENTED", "Not Implemented"),
    (502, "BAD_GATEWAY", "Bad Gateway"),
    (503, "SERVICE_UNAVAILABLE", "Service Unavailable"),
    (504, "GATEWAY_TIMEOUT", "Gateway Timeout"),
    (505, "HTTP_VERSION_NOT_SUPPORTED", "HTTP Version Not Supported"),
    (506, "VARIANT_ALSO_NEGOTIATES", "Variant Also Negotiates"),
    (507, "INSUFFICIENT_STORAGE", "Insufficient Storage"),
    (508, "LOOP_DETECTED", "Loop Detected"),
    (510, "NOT_EXTENDED", "Not Extended"),
    (511, "NETWORK_AUTHENTICATION_REQUIRED", "Network Authentication Required"),
)
_PHRASES: dict[int, str] = {code: phrase for code, _, phrase in _TABLE}
_CACHE: dict[int, StatusCode] = {}


class StatusCode(int):
    """An HTTP status code: an ``int`` in ``100..999`` with its reason phrase.

    The registered codes are class constants with their RFC 9110 names (:attr:`OK`,
    :attr:`NOT_FOUND`, :attr:`CONTENT_TOO_LARGE`, ...); any other three-digit code is accepted
    (``StatusCode(299)``), with an empty :attr:`reason_phrase`. Known codes are shared instances.
    A ``StatusCode`` equals the plain ``int`` with the same value.
    """

    __slots__ = ()

    CONTINUE: ClassVar[StatusCode]
    """``100 Continue``."""
    SWITCHING_PROTOCOLS: ClassVar[StatusCode]
    """``101 Switching Protocols``."""
    PROCESSING: ClassVar[StatusCode]
    """``102 Processing``."""
    EARLY_HINTS: ClassVar[StatusCode]
    """``103 Early Hints``."""
    OK: ClassVar[StatusCode]
    """``200 OK``."""
    CREATED: ClassVar[StatusCode]
    """``201 Created``."""
    ACCEPTED: ClassVar[StatusCode]
    """``202 Accepted``."""
    NON_AUTHORITATIVE_INFORMATION: ClassVar[StatusCode]
    """``203 Non-Authoritative Information``."""
    NO_CONTENT: ClassVar[StatusCode]
    """``204 No Content``."""
    RESET_CONTENT: ClassVar[StatusCode]
    """``205 Reset Content``."""
    PARTIAL_CONTENT: ClassVar[StatusCode]
    """``206 Partial Content``."""
    MULTI_STATUS: ClassVar[StatusCode]
    """``207 Multi-Status``."""
    ALREADY_REPORTED: ClassVar[StatusCode]
    """``208 Already Reported``."""
    IM_USED: ClassVar[StatusCode]
    """``226 IM Used``."""
    MULTIPLE_CHOICES: ClassVar[StatusCode]
    """``300 Multiple Choices``."""
    MOVED_PERMANENTLY: ClassVar[StatusCode]
    """``301 Moved Permanently``."""
    FOUND: ClassVar[StatusCode]
    """``302 Found``."""
    SEE_OTHER: ClassVar[StatusCode]
    """``303 See Other``."""
    NOT_MODIFIED: ClassVar[StatusCode]
    """``304 Not Modified``."""
    USE_PROXY: ClassVar[StatusCode]
    """``305 Use Proxy``."""
    TEMPORARY_REDIRECT: ClassVar[StatusCode]
    """``307 Temporary Redirect``."""
    PERMANENT_REDIRECT: ClassVar[StatusCode]
    """``308 Permanent Redirect``."""
    BAD_REQUEST: ClassVar[StatusCode]
    """``400 Bad Request``."""
    UNAUTHORIZED: ClassVar[StatusCode]
    """``401 Unauthorized``."""
    PAYMENT_REQUIRED: ClassVar[StatusCode]
    """``402 Payment Required``."""
    FORBIDDEN: ClassVar[StatusCode]
    """``403 Forbidden``."""
    NOT_FOUND: ClassVar[StatusCode]
    """``404 Not Found``."""
    METHOD_NOT_ALLOWED: ClassVar[StatusCode]
    """``405 Method Not Allowed``."""
    NOT_ACCEPTABLE: ClassVar[StatusCode]
    """``406 Not Acceptable``."""
    PROXY_AUTHENTICATION_REQUIRED: ClassVar[StatusCode]
    """``407 Proxy Authentication Required``."""
    REQUEST_TIMEOUT: ClassVar[StatusCode]
    """``408 Request Timeout``."""
    CONFLICT: ClassVar[StatusCode]
    """``409 Conflict``."""
    GONE: ClassVar[StatusCode]
    """``410 Gone``."""
    LENGTH_REQUIRED: ClassVar[StatusCode]
    """``411 Length Required``."""
    PRECONDITION_FAILED: ClassVar[StatusCode]
    """``412 Precondition Failed``."""
    CONTENT_TOO_LARGE: ClassVar[StatusCode]
    """``413 Content Too Large``."""
    URI_TOO_LONG: ClassVar[StatusCode]
    """``414 URI Too Long``."""
    UNSUPPORTED_MEDIA_TYPE: ClassVar[StatusCode]
    """``415 Unsupported Media Type``."""
    RANGE_NOT_SATISFIABLE: ClassVar[StatusCode]
    """``416 Range Not Satisfiable``."""
    EXPECTATION_FAILED: ClassVar[StatusCode]
    """``417 Expectation Failed``."""
    IM_A_TEAPOT: ClassVar[StatusCode]
    """``418 I'm a teapot``."""
    MISDIRECTED_REQUEST: ClassVar[StatusCode]
    """``421 Misdirected Request``."""
    UNPROCESSABLE_CONTENT: ClassVar[StatusCode]
    """``422 Unprocessable Content``."""
    LOCKED: ClassVar[StatusCode]
    """``423 Locked``."""
    FAILED_DEPENDENCY: ClassVar[StatusCode]
    """``424 Failed Dependency``."""
    TOO_EARLY: ClassVar[StatusCode]
    """``425 Too Early``."""
    UPGRADE_REQUIRED: ClassVar[StatusCode]
    """``426 Upgrade Required``."""
    PRECONDITION_REQUIRED: ClassVar[StatusCode]
    """``428 Precondition Required``."""
    TOO_MANY_REQUESTS: ClassVar[StatusCode]
    """``429 Too Many Requests``."""
    REQUEST_HEADER_FIELDS_TOO_LARGE: ClassVar[StatusCode]
    """``431 Request Header Fields Too Large``."""
    UNAVAILABLE_FOR_LEGAL_REASONS: ClassVar[StatusCode]
    """``451 Unavailable For Legal Reasons``."""
    INTERNAL_SERVER_ERROR: ClassVar[StatusCode]
    """``500 Internal Server Error``."""
    NOT_IMPLEMENTED: ClassVar[StatusCode]
    """``501 Not Implemented``."""
    BAD_GATEWAY: ClassVar[StatusCode]
    """``502 Bad Gateway``."""
    SERVICE_UNAVAILABLE: ClassVar[StatusCode]
    """``503 Service Unavailable``."""
    GATEWAY_TIMEOUT: ClassVar[StatusCode]
    """``504 Gateway Timeout``."""
    HTTP_VERSION_NOT_SUPPORTED: ClassVar[StatusCode]
    """``505 HTTP Version Not Supported``."""
    VARIANT_ALSO_NEGOTIATES: ClassVar[StatusCode]
    """``506 Variant Also Negotiates``."""
    INSUFFICIENT_STORAGE: ClassVar[StatusCode]
    """``507 Insufficient Storage``."""
    LOOP_DETECTED: ClassVar[StatusCode]
    """``508 Loop Detected``."""
    NOT_EXTENDED: ClassVar[StatusCode]
    """``510 Not Extended``."""
    NETWORK_AUTHENTICATION_REQUIRED: ClassVar[StatusCode]
    """``511 Network Authentication Required``."""

    def __new__(cls, value: int | str | bytes) -> StatusCode:
        """Validate *value* (an int, or three ASCII digits as text) and return the status."""
        if isinstance(value, bool):
            raise TypeError("a status code must be int, str or bytes, not bool")
        if isinstance(value, int):
            code = int(value)
        elif isinstance(value, str | bytes):
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            if len(text) != 3 or not text.isascii() or not text.isdigit():
                raise InvalidStatusCodeError(
                    f"invalid status code {value!r}: expected three ASCII digits"
                )
            code = int(text)
        else:
            raise TypeError(f"a status code must be int, str or bytes, got {type(value).__name__}")
        cached = _CACHE.get(code)
        if cached is not None:
            return cached
        if not 100 <= code <= 999:
            raise InvalidStatusCodeError(f"invalid status code {code}: must be in 100..999")
        return int.__new__(cls, code)

    @classmethod
    def parse(cls, value: int | str | bytes) -> StatusCode:
        """Same as ``StatusCode(value)``."""
        return cls(value)

    @property
    def reason_phrase(self) -> str:
        """The registered reason phrase (``"Not Found"``), or ``""`` for unregistered codes."""
        return _PHRASES.get(int(self), "")

    @property
    def canonical_reason(self) -> str | None:
        """The registered reason phrase, or ``None`` for unregistered codes."""
        return _PHRASES.get(int(self))

    @property
    def is_informational(self) -> bool:
        """``1xx``."""
        return 100 <= self <= 199

    @property
    def is_success(self) -> bool:
        """``2xx``."""
        return 200 <= self <= 299

    @property
    def is_redirection(self) -> bool:
        """``3xx``."""
        return 300 <= self <= 399

    @property
    def is_client_error(self) -> bool:
        """``4xx``."""
        return 400 <= self <= 499

    @property
    def is_server_error(self) -> bool:
        """``5xx``."""
        return 500 <= self <= 599

    @property
    def is_error(self) -> bool:
        """``4xx`` or ``5xx``."""
        return 400 <= self <= 599

    @property
    def allows_body(self) -> bool:
        """Whether a response with this status may carry content (not ``1xx``, ``204``, ``304``)."""
        return self >= 200 and self != 204 and self != 304

    def as_bytes(self) -> bytes:
        """The three ASCII digits, as on the wire."""
        return b"%d" % self

    def __str__(self) -> str:
        return str(int(self))

    def __repr__(self) -> str:
        return f"StatusCode({int(self)})"


for _code, _name, _ in _TABLE:
    _status = int.__new__(StatusCode, _code)
    _CACHE[_code] = _status
    setattr(StatusCode, _name, _status)
del _code, _name, _status
