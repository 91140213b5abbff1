"""pyrama-http-types: HTTP messages, headers, URIs, bodies and fingerprints."""

from pyrama_http_types._body import Body, BodySender
from pyrama_http_types._headers import (
    HeaderItems,
    HeaderMap,
    HeaderName,
    HeaderValue,
    TypedHeader,
    check_header_name,
    check_header_value,
)
from pyrama_http_types._message import (
    HeadersLike,
    Request,
    RequestParts,
    Response,
    ResponseParts,
)
from pyrama_http_types._method import Method
from pyrama_http_types._status import StatusCode
from pyrama_http_types._uri import Uri, UriForm
from pyrama_http_types._version import Version

__all__ = [
    "Body",
    "BodySender",
    "HeaderItems",
    "HeaderMap",
    "HeaderName",
    "HeaderValue",
    "HeadersLike",
    "Method",
    "Request",
    "RequestParts",
    "Response",
    "ResponseParts",
    "StatusCode",
    "TypedHeader",
    "Uri",
    "UriForm",
    "Version",
    "check_header_name",
    "check_header_value",
]

__version__ = "0.1.0"
