"""HTTP layers: middleware for ``Service[Request, Response]`` on servers and clients.

Modelled on rama's ``rama-http::layer`` (and tower-http): tracing, timeouts, compression,
CORS, authorization, headers, request ids, redirects, retries, limits, error mapping, path
normalization, forwarding headers, HSTS and OpenTelemetry. Core layers that fit any
service (``TimeoutLayer``, ``LimitLayer``, ``MapInputLayer``...) live in
:mod:`pyrama_core.layer`; the ones here build on them where they can.
"""

from pyrama_http.layer._auth import (
    AddAuthorizationLayer,
    AddAuthorizationService,
    AuthorizedUser,
    SensitiveHeaders,
    ValidateRequestHeaderLayer,
    ValidateRequestHeaderService,
)
from pyrama_http.layer._codec import SUPPORTED_ENCODINGS, available_encodings
from pyrama_http.layer._compression import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    CompressionLayer,
    CompressionService,
    DecodedContent,
    DecompressionLayer,
    DecompressionService,
    RequestDecompressionLayer,
    RequestDecompressionService,
    is_compressible_content_type,
    negotiate_encoding,
    parse_accept_encoding,
)
from pyrama_http.layer._cors import CorsLayer, CorsService
from pyrama_http.layer._error import ErrorToResponseLayer, ErrorToResponseService, status_for_error
from pyrama_http.layer._forwarded import (
    DEFAULT_TRUSTED_PROXIES,
    ForwardedHeader,
    ForwardedLayer,
    ForwardedService,
    SetForwardedHeaderLayer,
    SetForwardedHeaderService,
)
from pyrama_http.layer._headers import (
    HeaderMode,
    PropagateHeaderLayer,
    PropagateHeaderService,
    RemoveRequestHeaderLayer,
    RemoveRequestHeaderService,
    RemoveResponseHeaderLayer,
    RemoveResponseHeaderService,
    SetRequestHeaderLayer,
    SetRequestHeaderService,
    SetResponseHeaderLayer,
    SetResponseHeaderService,
)
from pyrama_http.layer._hsts import HstsLayer, HstsService, HttpsRedirectLayer, HttpsRedirectService
from pyrama_http.layer._limit import (
    HttpLimitLayer,
    HttpLimitService,
    RequestBodyLimitLayer,
    RequestBodyLimitService,
)
from pyrama_http.layer._normalize import (
    NormalizePathLayer,
    NormalizePathService,
    TrailingSlash,
    normalize_path,
)
from pyrama_http.layer._otel import OpenTelemetryLayer, OpenTelemetryService
from pyrama_http.layer._redirect import (
    FollowRedirectLayer,
    FollowRedirectService,
    RedirectHistory,
    RedirectLoopError,
    TooManyRedirectsError,
)
from pyrama_http.layer._request_id import RequestId, RequestIdLayer, RequestIdService
from pyrama_http.layer._required import (
    AddRequiredRequestHeadersLayer,
    AddRequiredRequestHeadersService,
    RequiredHeaderLayer,
    RequiredHeaderService,
)
from pyrama_http.layer._retry import RetryLayer, RetryPolicy, RetryService, StandardRetryPolicy
from pyrama_http.layer._timeout import HttpTimeoutLayer, HttpTimeoutService
from pyrama_http.layer._trace import TraceLayer, TraceService
from pyrama_http.layer._util import HttpService

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "DEFAULT_TRUSTED_PROXIES",
    "SUPPORTED_ENCODINGS",
    "AddAuthorizationLayer",
    "AddAuthorizationService",
    "AddRequiredRequestHeadersLayer",
    "AddRequiredRequestHeadersService",
    "AuthorizedUser",
    "CompressionLayer",
    "CompressionService",
    "CorsLayer",
    "CorsService",
    "DecodedContent",
    "DecompressionLayer",
    "DecompressionService",
    "ErrorToResponseLayer",
    "ErrorToResponseService",
    "FollowRedirectLayer",
    "FollowRedirectService",
    "ForwardedHeader",
    "ForwardedLayer",
    "ForwardedService",
    "HeaderMode",
    "HstsLayer",
    "HstsService",
    "HttpLimitLayer",
    "HttpLimitService",
    "HttpService",
    "HttpTimeoutLayer",
    "HttpTimeoutService",
    "HttpsRedirectLayer",
    "HttpsRedirectService",
    "NormalizePathLayer",
    "NormalizePathService",
    "OpenTelemetryLayer",
    "OpenTelemetryService",
    "PropagateHeaderLayer",
    "PropagateHeaderService",
    "RedirectHistory",
    "RedirectLoopError",
    "RemoveRequestHeaderLayer",
    "RemoveRequestHeaderService",
    "RemoveResponseHeaderLayer",
    "RemoveResponseHeaderService",
    "RequestBodyLimitLayer",
    "RequestBodyLimitService",
    "RequestDecompressionLayer",
    "RequestDecompressionService",
    "RequestId",
    "RequestIdLayer",
    "RequestIdService",
    "RequiredHeaderLayer",
    "RequiredHeaderService",
    "RetryLayer",
    "RetryPolicy",
    "RetryService",
    "SensitiveHeaders",
    "SetForwardedHeaderLayer",
    "SetForwardedHeaderService",
    "SetRequestHeaderLayer",
    "SetRequestHeaderService",
    "SetResponseHeaderLayer",
    "SetResponseHeaderService",
    "StandardRetryPolicy",
    "TooManyRedirectsError",
    "TraceLayer",
    "TraceService",
    "TrailingSlash",
    "ValidateRequestHeaderLayer",
    "ValidateRequestHeaderService",
    "available_encodings",
    "is_compressible_content_type",
    "negotiate_encoding",
    "normalize_path",
    "parse_accept_encoding",
    "status_for_error",
]
