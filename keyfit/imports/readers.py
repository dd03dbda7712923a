"""Streaming readers for CSV (UTF-8, UTF-8 with BOM, GB18030/GBK) and XLSX files.

Every reader yields ``(row_number, values)`` where the row number is what a spreadsheet shows (the
header is row 1, so the first data row is row 2) and ``values`` is a list of strings.
"""

import codecs
import csv
import datetime
import decimal
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

csv.field_size_limit(256 * 1024 * 1024)

ENCODINGS = ("utf-8-sig", "utf-8", "gb18030", "gbk")
_SNIFF_BYTES = 8 * 1024 * 1024


def detect_format(name: str) -> str:
    return "xlsx" if str(name).lower().endswith((".xlsx", ".xlsm")) else "csv"


def detect_encoding(path: str | Path) -> str:
    """utf-8-sig when the file starts with a BOM; utf-8 when the first 8 MB decode; else gb18030."""
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the sample's end is not an error
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str = ""
    delimiter: str = ""
    extra: dict = field(default_factory=dict)
    close: object = None


def _first_line(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        return fh.readline(1_000_000)


def _trim_header(header: list[str]) -> list[str]:
    header = [h.strip() for h in header]
    while header and header[-1] == "":  # a trailing delimiter on every line
        header.pop()
    return header


def open_csv(path: str | Path, *, encoding: str | None = None, delimiter: str | None = None) -> Table:
    path = Path(path)
    encoding = encoding or detect_encoding(path)
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # harmless without a BOM, strips it with one
    delimiter = delimiter or detect_delimiter(_first_line(path, encoding))
    fh = open(path, encoding=encoding, errors="strict", newline="")  # noqa: SIM115 - closed by the caller
    reader = csv.reader(fh, delimiter=delimiter)
    try:
        header = _trim_header(next(reader))
    except StopIteration:
        header = []

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for values in reader:
                number += 1
                if not values or (len(values) == 1 and values[0] == ""):
                    continue
                yield number, values
        finally:
            fh.close()

    return Table(header=header, rows=rows(), encoding=encoding, delimiter=delimiter, close=fh.close)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat(" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)


def open_xlsx(path: str | Path, *, sheet: str | None = None) -> Table:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
    iterator = worksheet.iter_rows(values_only=True)
    try:
        header = _trim_header([_cell_text(v) for v in next(iterator)])
    except StopIteration:
        header = []

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for values in iterator:
                number += 1
                texts = [_cell_text(v) for v in values]
                if not any(texts):
                    continue
                yield number, texts
        finally:
            workbook.close()

    return Table(header=header, rows=rows(), encoding="xlsx", close=workbook.close)


def open_table(
    path: str | Path, *, file_format: str | None = None, encoding: str | None = None, delimiter: str | None = None
) -> Table:
    file_format = file_format or detect_format(str(path))
    if file_format == "xlsx":
        return open_xlsx(path)
    return open_csv(path, encoding=encoding, delimiter=delimiter)


def sample(path: str | Path, *, file_format: str | None = None, encoding=None, delimiter=None, rows: int = 5):
    """The header, a few sample rows and the detected encoding/delimiter (for the mapping step)."""
    table = open_table(path, file_format=file_format, encoding=encoding, delimiter=delimiter)
    samples = []
    try:
        for _number, values in table.rows:
            samples.append([v[:80] for v in values])
            if len(samples) >= rows:
                break
    finally:
        if table.close:
            table.close()
    return table.header, samples, table.encoding, table.delimiter


def estimate_rows(path: str | Path, file_format: str) -> int | None:
    """A quick estimate of the data rows (line count for CSV) for the progress bar."""
    if file_format == "xlsx":
        try:
            from openpyxl import load_workbook

            workbook = load_workbook(path, read_only=True)
            count = max((workbook.worksheets[0].max_row or 1) - 1, 0)
            workbook.close()
            return count
        except Exception:
            return None
    lines = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            lines += block.count(b"\n")
        fh.seek(max(0, fh.tell() - 1))
        if fh.read(1) not in (b"\n", b""):
            lines += 1
    return max(lines - 1, 0)


def read_text(data: bytes, encoding: str | None = None) -> str:
    """Decode a small uploaded text (e.g. a mapping file)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8")
    try:
        return data.decode(encoding or "utf-8")
    except UnicodeDecodeError:
        return io.BytesIO(data).read().decode("gb18030")
