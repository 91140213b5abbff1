"""pyrama_http.har: record HTTP exchanges as HAR 1.2 and read HAR files back.

* :class:`HarRecorderLayer` wraps any client- or proxy-side ``Service[Request, Response]``
  and records each exchange into a :class:`HarRecorder` without breaking streaming (bodies
  are teed up to a limit; sensitive header fields are redacted by default).
* :class:`HarLog` and friends are the HAR 1.2 model: :meth:`HarLog.write` writes a file
  atomically, :func:`load_har` reads one back and validates it (:func:`validate_har`).
"""

from pyrama_http.har._model import (
    HAR_VERSION,
    HarContent,
    HarCookie,
    HarCreator,
    HarEntry,
    HarError,
    HarLog,
    HarNameValue,
    HarPage,
    HarPostData,
    HarRequest,
    HarResponse,
    HarTimings,
    HarValidationError,
    load_har,
    validate_har,
)
from pyrama_http.har._recorder import (
    DEFAULT_HAR_MAX_BODY,
    DEFAULT_SENSITIVE_HEADERS,
    REDACTED,
    HarRecorder,
    HarRecorderLayer,
    HarRecorderService,
)

__all__ = [
    "DEFAULT_HAR_MAX_BODY",
    "DEFAULT_SENSITIVE_HEADERS",
    "HAR_VERSION",
    "REDACTED",
    "HarContent",
    "HarCookie",
    "HarCreator",
    "HarEntry",
    "HarError",
    "HarLog",
    "HarNameValue",
    "HarPage",
    "HarPostData",
    "HarRecorder",
    "HarRecorderLayer",
    "HarRecorderService",
    "HarRequest",
    "HarResponse",
    "HarTimings",
    "HarValidationError",
    "load_har",
    "validate_har",
]
