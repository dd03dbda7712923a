"""XLSX export of a wave's results (openpyxl)."""

import io
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from keyfit.fitcanvas.choices import Element, Level


def results_workbook(wave, results: dict[str, Any]) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append([_("Account"), wave.account.name])
    summary.append([_("Wave"), wave.name])
    summary.append([_("Status"), wave.status])
    summary.append([_("Fit"), results["headline"]["overall"], results["headline"]["label"]])
    summary.append([_("Maturity band"), results["maturity_band"]])
    summary.append([_("Supplier view"), results["sides"]["supplier"]["overall"]])
    summary.append([_("Customer view"), results["sides"]["customer"]["overall"]])
    gaps = results["gaps"]
    summary.append([_("Bias (mean gap)"), gaps["bias"]])
    summary.append([_("Mean absolute gap"), gaps["mean_absolute"]])
    summary.append([_("Limits of agreement"), gaps["loa_lower"], gaps["loa_upper"]])
    summary.append([_("Relationship solid"), results["relationship_solid"]])
    summary.append([_("Don't-know rate"), results["dont_know_rate"]])
    summary.append([_("Horizon mismatch"), results["horizon"]["mismatch"]])
    sheet = book.create_sheet("Elements")
    sheet.append(
        [
            "code",
            _("Element"),
            _("Supplier"),
            _("Customer"),
            _("Gap"),
            _("Class"),
            _("Direction"),
            "r_wg supplier",
            "r_wg customer",
            _("Priority"),
            _("Improvement area"),
            _("Strength"),
            _("Persistent bias"),
        ]
    )
    for code, label in Element.choices:
        e = results["elements"][code]
        sheet.append(
            [
                code,
                str(label),
                e["supplier"],
                e["customer"],
                e["gap"],
                e["gap_class"],
                e["gap_direction"],
                e["r_wg"]["supplier"],
                e["r_wg"]["customer"],
                e["priority"],
                e["improvement_area"],
                e["strength"],
                e.get("persistent_bias", False),
            ]
        )
    levels = book.create_sheet("Levels")
    levels.append(["code", _("Level"), _("Supplier"), _("Customer")])
    for code, label in Level.choices:
        levels.append(
            [
                code,
                str(label),
                results["sides"]["supplier"]["levels"][code],
                results["sides"]["customer"]["levels"][code],
            ]
        )
    trend = book.create_sheet("Trend")
    trend.append([_("Wave"), _("Date"), _("Supplier"), _("Customer")])
    for t in results.get("trend", []):
        trend.append([t["name"], t["date"], t["supplier"], t["customer"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
