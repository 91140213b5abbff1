"""Static files over HTTP: :class:`ServeDir` (a directory tree) and :class:`ServeFile` (one file).

Both are plain ``Service[Request, Response]`` objects: byte ranges (single and multiple,
``If-Range``), weak ``ETag`` and ``Last-Modified`` validators with conditional requests
(``304``/``412``), content types from the file name, precompressed ``.br``/``.zst``/``.gz``
siblings chosen by ``Accept-Encoding``, HEAD, and bodies streamed in chunks. ``ServeDir``
adds index files, optional HTML listings, the trailing-slash redirect, a symlink policy and
refuses every path that would leave its root.
"""

from pyrama_http.fs._conditional import (
    ByteRange,
    Precondition,
    etag_matches,
    evaluate_preconditions,
    if_range_allows,
    parse_range,
)
from pyrama_http.fs._serve import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_LISTING_ENTRIES,
    DEFAULT_MAX_RANGES,
    PRECOMPRESSED_ENCODINGS,
    ServeDir,
    ServeFile,
    SymlinkPolicy,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_LISTING_ENTRIES",
    "DEFAULT_MAX_RANGES",
    "PRECOMPRESSED_ENCODINGS",
    "ByteRange",
    "Precondition",
    "ServeDir",
    "ServeFile",
    "SymlinkPolicy",
    "etag_matches",
    "evaluate_preconditions",
    "if_range_allows",
    "parse_range",
]
