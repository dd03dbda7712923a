"""Export of records to CSV (UTF-8 with BOM by default) or XLSX, neutralising formula injection."""

import csv
import datetime
import decimal
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keyfit.imports.kinds import Kind, available_kinds

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text starting with = + - @ tab or CR gets a leading apostrophe, so no spreadsheet runs it."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def export_columns(kind: Kind) -> list[str]:
    names = list(kind.importable_fields())
    if kind.owner_field:
        names.append("owner_email")
    if kind.account_field:
        names += ["account_external_id", "account_name"]
    return names + list(kind.export_lookups)


def _rows(kind: Kind, queryset, custom_keys: list[str]) -> Iterator[list[Any]]:
    fields = list(kind.importable_fields())
    related = []
    if kind.owner_field:
        related.append(f"{kind.owner_field}__email")
    if kind.account_field:
        related += [f"{kind.account_field}__external_id", f"{kind.account_field}__name"]
    related += list(kind.export_lookups.values())
    extra = ["custom_fields"] if kind.custom_target else []
    for item in queryset.order_by("pk").values(*fields, *related, *extra).iterator(chunk_size=2000):
        row = [item[name] for name in fields] + [item[name] for name in related]
        custom = item.get("custom_fields") or {}
        row += [custom.get(key) for key in custom_keys]
        yield row


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return neutralise(str(value)) if isinstance(value, str) else value


def export_kind(kind: Kind, queryset, path: Path, *, file_format: str = "csv", bom: bool = True) -> int:
    from keyfit.core.customfields import custom_field_definitions

    custom_keys = [d.key for d in custom_field_definitions(kind.custom_target)] if kind.custom_target else []
    header = export_columns(kind) + [f"custom.{key}" for key in custom_keys]
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(str(kind.name))
        sheet.append(header)
        for row in _rows(kind, queryset, custom_keys):
            sheet.append([_cell(v) for v in row])
            count += 1
        workbook.save(path)
        return count
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        for row in _rows(kind, queryset, custom_keys):
            writer.writerow([_cell(v) for v in row])
            count += 1
    return count


def export_all(user, path: Path, *, filters_by_kind: dict | None = None) -> dict[str, int]:
    """Every kind the user can see, one CSV per kind in a ZIP file."""
    counts = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for kind in available_kinds():
            tmp = path.with_suffix(f".{kind.name}.csv")
            counts[kind.name] = export_kind(kind, kind.visible(user), tmp)
            archive.write(tmp, f"{kind.name}.csv")
            tmp.unlink()
    return counts


def filtered(kind: Kind, user, params: dict[str, str]):
    """The user's visible records of `kind`, filtered by exact field values given as query parameters."""
    queryset = kind.visible(user)
    allowed = set(kind.importable_fields()) | {"owner", "team", "account"}
    concrete = {f.name for f in kind.model._meta.concrete_fields}
    for name, value in params.items():
        if name in allowed and name in concrete and value != "":
            queryset = queryset.filter(**{name: value})
        elif name == "q" and value and "name" in concrete:
            queryset = queryset.filter(name__icontains=value)
    return queryset


def to_bytes_csv(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
