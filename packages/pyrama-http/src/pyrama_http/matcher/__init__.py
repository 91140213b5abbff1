"""HTTP request matchers for :func:`~pyrama_http.web.match_service` and routers.

They are :class:`pyrama_core.matcher.BaseMatcher` s: combine them with ``&``, ``|`` and ``~``
(or :class:`~pyrama_core.matcher.And`, :class:`~pyrama_core.matcher.Or`,
:class:`~pyrama_core.matcher.Not`).
"""

from pyrama_http.matcher._matchers import (
    DomainMatcher,
    HeaderMatcher,
    MethodMatcher,
    PathMatcher,
    SocketAddressMatcher,
    UriMatcher,
    VersionMatcher,
    request_host,
)

__all__ = [
    "DomainMatcher",
    "HeaderMatcher",
    "MethodMatcher",
    "PathMatcher",
    "SocketAddressMatcher",
    "UriMatcher",
    "VersionMatcher",
    "request_host",
]
