"""Web services: Router, WebService, match_service, extractors and IntoResponse.

Handlers are plain ``async def`` functions; their parameters are filled by type annotation
(inspected once per route)::

    router = Router(state=db)

    @router.get("/items/{id}")
    async def get_item(id: Path[int], q: Query[Paging], db: State[Db]) -> dict[str, Any]:
        ...

and what they return becomes a response (:func:`into_response`).
"""

from pyrama_http.web._convert import Invalid
from pyrama_http.web._errors import ExtractError, RouteError
from pyrama_http.web._extract import (
    DEFAULT_BODY_LIMIT,
    Extension,
    Form,
    FromRequest,
    Handler,
    Json,
    Path,
    Query,
    State,
    TypedHeader,
    compile_handler,
    parse_query,
)
from pyrama_http.web._multipart import (
    PART_END,
    Multipart,
    MultipartError,
    MultipartLimits,
    MultipartParser,
    Part,
    PartStart,
    boundary_of,
    header_params,
)
from pyrama_http.web._params import OriginalUri, PathParams
from pyrama_http.web._response import (
    Html,
    IntoResponse,
    JsonResponse,
    Redirect,
    into_response,
    json_default,
)
from pyrama_http.web._router import Router, parse_pattern
from pyrama_http.web._service import MatchService, WebService, match_service

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "PART_END",
    "Extension",
    "ExtractError",
    "Form",
    "FromRequest",
    "Handler",
    "Html",
    "IntoResponse",
    "Invalid",
    "Json",
    "JsonResponse",
    "MatchService",
    "Multipart",
    "MultipartError",
    "MultipartLimits",
    "MultipartParser",
    "OriginalUri",
    "Part",
    "PartStart",
    "Path",
    "PathParams",
    "Query",
    "Redirect",
    "RouteError",
    "Router",
    "State",
    "TypedHeader",
    "WebService",
    "boundary_of",
    "compile_handler",
    "header_params",
    "into_response",
    "json_default",
    "match_service",
    "parse_pattern",
    "parse_query",
]
