"""Proxy lists as CSV: the documented header, strict row validation with line numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from pyrama_net import ProxyAddress
from pyrama_proxy._proxy import Proxy
from pyrama_proxy.errors import ProxyDBLoadError

__all__ = ["CSV_COLUMNS", "load_proxy_csv", "parse_proxy_csv", "proxies_to_csv"]

CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "address",
    "tcp",
    "udp",
    "http",
    "https",
    "socks5",
    "socks5h",
    "datacenter",
    "residential",
    "mobile",
    "pool_id",
    "continent",
    "country",
    "state",
    "city",
    "carrier",
    "asn",
)
"""The columns of a proxy CSV, in the order :func:`proxies_to_csv` writes them.

The first non-empty line is the header; it names the columns, in any order. ``id`` and
``address`` are required; every other column is optional. ``address`` is a
:class:`~pyrama_net.ProxyAddress` (``http://user:pass@10.0.0.1:3128``, credentials
percent-encoded). The flag columns (``tcp`` ... ``mobile``) take ``true``/``false``,
``yes``/``no``, ``1``/``0`` (any case) or an empty cell (false). The other columns are free text
(empty means unknown) except ``asn``, a decimal number. Empty lines and lines whose first cell
starts with ``#`` are skipped.
"""

_REQUIRED = ("id", "address")
_FLAGS = frozenset(CSV_COLUMNS[2:11])
_TRUE = frozenset(("true", "yes", "1"))
_FALSE = frozenset(("false", "no", "0", ""))
_MAX_FIELD = 4096


def _flag(column: str, text: str, line: int) -> bool:
    lowered = text.strip().casefold()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ProxyDBLoadError(
        f"column {column!r}: {text!r} is not a flag (true/false, yes/no, 1/0 or empty)", line=line
    )


def _row_to_proxy(header: list[str], row: list[str], line: int) -> Proxy:
    if len(row) != len(header):
        raise ProxyDBLoadError(
            f"expected {len(header)} cells (as in the header), got {len(row)}", line=line
        )
    cells = dict(zip(header, row, strict=True))
    kwargs: dict[str, object] = {}
    for column, text in cells.items():
        if column in _FLAGS:
            kwargs[column] = _flag(column, text, line)
        elif column == "address":
            try:
                kwargs["address"] = ProxyAddress.parse(text.strip())
            except ValueError as exc:
                raise ProxyDBLoadError(f"column 'address': {exc}", line=line) from exc
        elif column == "asn":
            stripped = text.strip()
            if stripped:
                if not stripped.isascii() or not stripped.isdigit() or len(stripped) > 10:
                    raise ProxyDBLoadError(f"column 'asn': {text!r} is not a number", line=line)
                kwargs["asn"] = int(stripped)
        else:
            kwargs[column] = text
    if not cells["id"].strip():
        raise ProxyDBLoadError("column 'id' is empty", line=line)
    try:
        return Proxy(**kwargs)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ProxyDBLoadError(str(exc), line=line) from exc


def parse_proxy_csv(lines: Iterable[str]) -> list[Proxy]:
    """Read proxies from CSV text lines (see :data:`CSV_COLUMNS` for the format).

    Raises :class:`~pyrama_proxy.errors.ProxyDBLoadError`, naming the line, for a missing or
    malformed header, a row with the wrong number of cells, an invalid cell, a duplicate id or
    a cell longer than 4096 characters.
    """
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    proxies: list[Proxy] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if any(len(cell) > _MAX_FIELD for cell in row):
                raise ProxyDBLoadError(f"a cell is longer than {_MAX_FIELD} characters", line=line)
            if header is None:
                header = [cell.strip().casefold() for cell in row]
                _check_header(header, line)
                continue
            proxy = _row_to_proxy(header, row, line)
            first = seen.get(proxy.id)
            if first is not None:
                raise ProxyDBLoadError(
                    f"duplicate proxy id {proxy.id!r} (first on line {first})", line=line
                )
            seen[proxy.id] = line
            proxies.append(proxy)
    except csv.Error as exc:
        raise ProxyDBLoadError(f"malformed CSV: {exc}", line=reader.line_num) from exc
    if header is None:
        raise ProxyDBLoadError("the proxy list is empty (a header line is required)")
    return proxies


def _check_header(header: list[str], line: int) -> None:
    known = frozenset(CSV_COLUMNS)
    for column in header:
        if column not in known:
            raise ProxyDBLoadError(
                f"unknown column {column!r} in the header (known: {', '.join(CSV_COLUMNS)})",
                line=line,
            )
    if len(set(header)) != len(header):
        raise ProxyDBLoadError("a column appears twice in the header", line=line)
    for column in _REQUIRED:
        if column not in header:
            raise ProxyDBLoadError(f"the header has no {column!r} column", line=line)


def load_proxy_csv(path: str | Path) -> list[Proxy]:
    """Read a proxy CSV file (UTF-8, with or without a BOM); see :func:`parse_proxy_csv`."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return parse_proxy_csv(fh)
    except OSError as exc:
        raise ProxyDBLoadError(f"cannot read proxy list {str(path)!r}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ProxyDBLoadError(f"proxy list {str(path)!r} is not UTF-8: {exc}") from exc


def proxies_to_csv(proxies: Iterable[Proxy]) -> str:
    """Write *proxies* as CSV text with the full :data:`CSV_COLUMNS` header.

    :func:`parse_proxy_csv` reads the result back to equal records; an id starting with ``#``
    (which would read back as a comment) raises :class:`~pyrama_proxy.errors.ProxyDBLoadError`.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for proxy in proxies:
        if proxy.id.startswith("#"):
            raise ProxyDBLoadError(f"proxy id {proxy.id!r} would read back as a comment line")
        row: list[str] = []
        for column in CSV_COLUMNS:
            value: object = getattr(proxy, column)
            if isinstance(value, bool):
                row.append("true" if value else "false")
            elif value is None:
                row.append("")
            else:
                row.append(str(value))
        writer.writerow(row)
    return out.getvalue()
