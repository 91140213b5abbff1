"""pyrama-proxy: upstream proxy records, ProxyDB, ProxyFilter and username labels."""

from pyrama_proxy._csv import CSV_COLUMNS, load_proxy_csv, parse_proxy_csv, proxies_to_csv
from pyrama_proxy._db import MemoryProxyDB, ProxyDB, ProxyPredicate, ProxySelection
from pyrama_proxy._layer import HasExtensions, ProxySelectLayer, ProxySelectService
from pyrama_proxy._proxy import Proxy, ProxyFilter, normalize_value
from pyrama_proxy._username import (
    ProxyFilterLabelParser,
    UsernameLabelParser,
    format_username_labels,
    parse_username,
    parse_username_labels,
)
from pyrama_proxy.errors import (
    ProxyDBLoadError,
    ProxyError,
    ProxyNotFoundError,
    UsernameLabelError,
)

__all__ = [
    "CSV_COLUMNS",
    "HasExtensions",
    "MemoryProxyDB",
    "Proxy",
    "ProxyDB",
    "ProxyDBLoadError",
    "ProxyError",
    "ProxyFilter",
    "ProxyFilterLabelParser",
    "ProxyNotFoundError",
    "ProxyPredicate",
    "ProxySelectLayer",
    "ProxySelectService",
    "ProxySelection",
    "UsernameLabelError",
    "UsernameLabelParser",
    "format_username_labels",
    "load_proxy_csv",
    "normalize_value",
    "parse_proxy_csv",
    "parse_username",
    "parse_username_labels",
    "proxies_to_csv",
]

__version__ = "0.1.0"
