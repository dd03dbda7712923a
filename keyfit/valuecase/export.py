"""XLSX export of one value case version (openpyxl): figures, drivers, costs, ratings, items."""

import io

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from keyfit.valuecase import calc


def case_workbook(case, figures: calc.Figures) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = str(_("Summary"))[:31]
    bold = Font(bold=True)
    shown = figures.as_decimals()
    ws.append([str(_("Opportunity")), str(case.opportunity)])
    ws.append([str(_("Version")), case.number])
    ws.append([str(_("State")), str(case.get_state_display())])
    ws.append([str(_("Currency")), case.currency])
    ws.append([])
    rows = [
        (_("Product value (PV)"), "pv"),
        (_("Seller value (SV)"), "sv"),
        (_("Actual value (AV = PV + SV)"), "av"),
        (_("Perception factor (P)"), "p"),
        (_("Customer value (CV = AV × P)"), "cv"),
        (_("Customer cost (CC)"), "cc"),
        (_("Net value (CV − CC)"), "net"),
        (_("Perceived net value"), "perceived_net"),
        (_("Customer ROI"), "roi"),
        (_("Break-even perception"), "break_even_p"),
        (_("Payback (months)"), "payback_months"),
    ]
    for label, key in rows:
        ws.append([str(label), shown[key]])
    ws.append([str(_("Viable")), str(_("yes")) if figures.viable else str(_("no"))])
    for row in ws.iter_rows(min_col=1, max_col=1):
        row[0].font = bold

    def sheet(title, header, lines):
        s = wb.create_sheet(str(title)[:31])
        s.append([str(h) for h in header])
        for cell in s[1]:
            cell.font = bold
        for line in lines:
            s.append(line)

    sheet(
        _("Value drivers"),
        [
            _("Contributor"),
            _("Description"),
            _("Value-chain activity"),
            _("Quantity"),
            _("Unit value"),
            _("Amount"),
            _("Basis"),
            _("Formula or assumption"),
            _("Confidence"),
        ],
        [
            [
                str(d.get_contributor_display()),
                d.description,
                str(d.get_activity_display()),
                d.quantity,
                d.unit_value,
                d.amount,
                str(d.get_basis_kind_display()),
                d.basis,
                str(d.get_confidence_display()),
            ]
            for d in case.drivers.all()
        ],
    )
    sheet(
        _("Cost items"),
        [_("Kind"), _("Description"), _("Amount"), _("Basis"), _("Formula or assumption")],
        [
            [str(c.get_kind_display()), c.description, c.amount, str(c.get_basis_kind_display()), c.basis]
            for c in case.costs.all()
        ],
    )
    sheet(
        _("Perception"),
        [_("Stakeholder"), _("Product"), _("Personal-KPI fit"), _("Service")],
        [
            [r.contact.name if r.contact_id else str(_("Overall")), r.product, r.kpi, r.service]
            for r in case.ratings.all()
        ],
    )
    sheet(
        _("Mental accounting"),
        [_("Kind"), _("Description"), _("Amount")],
        [[str(i.get_kind_display()), i.description, i.amount] for i in case.items.all()],
    )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
