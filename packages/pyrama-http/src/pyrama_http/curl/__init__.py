"""pyrama_http.curl: curl interoperability.

* :func:`to_curl` writes the ``curl`` command that sends a pyrama
  :class:`~pyrama_http_types.Request` again (order and case of the fields, the body, the
  version), safely quoted for a POSIX shell.
* :class:`MultipartForm` builds ``multipart/form-data`` bodies the way curl's ``-F`` does.
"""

from pyrama_http.curl._export import DEFAULT_CURL_MAX_BODY, CurlExportError, to_curl
from pyrama_http.curl._multipart import (
    FormPart,
    MultipartForm,
    MultipartFormError,
    guess_content_type,
)

__all__ = [
    "DEFAULT_CURL_MAX_BODY",
    "CurlExportError",
    "FormPart",
    "MultipartForm",
    "MultipartFormError",
    "guess_content_type",
    "to_curl",
]
