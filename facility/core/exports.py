"""Tables leave the platform as CSV or XLSX through here, and only here.

One rule for every export (staff spreadsheets, the open data, chart data):
- numbers stay numbers and dates stay dates: a `Column` says what its cells are, CSV writes
  them plainly (`1234.56`, `2026-12-02`, `2026-12-02T10:00:00+00:00`) and XLSX writes numeric
  and date cells with a number format;
- only *text* cells are guarded against spreadsheet formulas (a cell that starts with `=`, `+`,
  `-`, `@`, tab or carriage return gets a leading `'`), so `-0.5` in a number column stays a number;
- rows are consumed one at a time: CSV is streamed to the client, XLSX is written with
  XlsxWriter's constant-memory mode to a temporary file and then streamed, so memory stays bounded
  however many rows there are.

Kinds: `int` (counts), `number` (a measured value such as a score: a Decimal or float, written as
given), `percent` (0-100), `money`, `date`, `datetime`, `bool`, `text`.
Money is kept in integer cents everywhere else; a `money` column takes cents and writes US dollars
with two decimals (`Decimal`, never a float in CSV).
"""
from __future__ import annotations

import csv
import enum
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import xlsxwriter
from flask import Response, stream_with_context

Kind = Literal["text", "int", "number", "money", "percent", "date", "datetime", "bool"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Column:
    """One column: its header (written as is, so machine-readable names stay stable) and its kind."""

    header: str
    kind: Kind = "text"


def guard_formula(text: str) -> str:
    """A text cell that a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def dollars(cents: int) -> Decimal:
    """Integer cents as an exact dollar amount with two decimals."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    return guard_formula(str(value))


def csv_cell(column: Column, value: Any) -> str:
    """The CSV text of one cell ("" for None)."""
    if value is None:
        return ""
    if column.kind == "money":
        return str(dollars(int(value)))
    if column.kind in ("int", "number", "percent"):
        return str(value)
    if column.kind == "bool":
        return "true" if value else "false"
    if column.kind == "datetime":
        return _utc(value).isoformat(timespec="seconds")
    if column.kind == "date":
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    return _text(value)


def csv_lines(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header, then one line per row, as they are produced."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([c.header for c in columns])
    yield flush()
    for row in rows:
        writer.writerow([csv_cell(c, v) for c, v in zip(columns, row, strict=True)])
        yield flush()


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def csv_response(columns: Sequence[Column], rows: Iterable[Sequence[Any]], filename: str, *,
                 headers: dict[str, str] | None = None) -> Response:
    """A streamed `text/csv` download (UTF-8 with a byte-order mark, so spreadsheets read every script)."""
    def body() -> Iterator[str]:
        yield "\ufeff"
        yield from csv_lines(columns, rows)
    return Response(stream_with_context(body()), mimetype="text/csv",
                    headers={**_attachment(filename), **(headers or {})})


def write_xlsx(target: Any, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, sheet: str = "Data") -> None:
    """Write the table to `target` (a path or a binary file) with typed cells, in constant memory."""
    book = xlsxwriter.Workbook(target, {"constant_memory": True, "remove_timezone": True,
                                        "strings_to_formulas": False, "strings_to_urls": False,
                                        "strings_to_numbers": False})
    formats = {
        "money": book.add_format({"num_format": "#,##0.00"}),
        "percent": book.add_format({"num_format": "0.0"}),
        "number": book.add_format({"num_format": "0.000"}),
        "int": book.add_format({"num_format": "0"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }
    bold = book.add_format({"bold": True})
    ws = book.add_worksheet(sheet[:31])
    for col, column in enumerate(columns):
        ws.write_string(0, col, column.header, bold)
        ws.set_column(col, col, max(10, min(40, len(column.header) + 2)))
    for r, row in enumerate(rows, start=1):
        for col, (column, value) in enumerate(zip(columns, row, strict=True)):
            _write_cell(ws, r, col, column, value, formats)
    book.close()


def _write_cell(ws: Any, r: int, col: int, column: Column, value: Any, formats: dict[str, Any]) -> None:
    if value is None:
        return
    kind = column.kind
    if kind == "money":
        ws.write_number(r, col, float(dollars(int(value))), formats["money"])
    elif kind in ("int", "number", "percent"):
        ws.write_number(r, col, float(value) if kind == "number" else value, formats[kind])
    elif kind == "bool":
        ws.write_boolean(r, col, bool(value))
    elif kind == "datetime":
        ws.write_datetime(r, col, _utc(value).replace(tzinfo=None), formats["datetime"])
    elif kind == "date":
        day = value.date() if isinstance(value, datetime) else value
        ws.write_datetime(r, col, datetime(day.year, day.month, day.day), formats["date"])
    else:
        ws.write_string(r, col, _text(value))


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(columns: Sequence[Column], rows: Iterable[Sequence[Any]], filename: str, *,
                  sheet: str = "Data", headers: dict[str, str] | None = None) -> Response:
    """An XLSX download: written to a temporary file in constant memory, then streamed from it."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the body once it has been sent
    write_xlsx(spool, columns, rows, sheet=sheet)
    spool.seek(0)

    def body() -> Iterator[bytes]:
        with spool:
            while chunk := spool.read(CHUNK):
                yield chunk
    return Response(body(), mimetype=XLSX_MIMETYPE, headers={**_attachment(filename), **(headers or {})})


def table_response(fmt: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], basename: str,
                   **kwargs: Any) -> Response:
    """`fmt` "xlsx" gives XLSX, anything else CSV: the one switch a `?format=` view needs."""
    if fmt == "xlsx":
        return xlsx_response(columns, rows, f"{basename}.xlsx", **kwargs)
    return csv_response(columns, rows, f"{basename}.csv", **kwargs)


__all__ = ["Column", "csv_cell", "csv_lines", "csv_response", "dollars", "guard_formula", "table_response",
           "write_xlsx", "xlsx_response"]
