"""Pages: the case page (build, send, close, realise), print view, XLSX export, the customer's link page."""

import functools
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keyfit.core.errors import Conflict, NotFound, PermissionDenied, RateLimited, ValidationFailed
from keyfit.core.permissions import is_admin
from keyfit.core.roles import Role
from keyfit.core.securelinks import client_address
from keyfit.valuecase import selectors, services
from keyfit.valuecase.choices import (
    BasisKind,
    CaseState,
    Confidence,
    Contributor,
    CostKind,
    MentalKind,
    ValueChainActivity,
)
from keyfit.valuecase.models import ValueCase
from keyfit.valuecase.permissions import access_value_case, editable_value_cases

LINE_KINDS = ("drivers", "costs", "ratings", "items")


def domain_errors(view):
    """Map domain errors of a page to HTTP: NotFound → 404, PermissionDenied → 403."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404() from None
        except PermissionDenied:
            raise DjangoPermissionDenied() from None

    return wrapper


def _load(user, pk) -> ValueCase:
    qs = selectors.with_lines(
        ValueCase.objects.select_related("opportunity__account", "sent_to", "acknowledgement__contact")
    ).prefetch_related("customer_comments__contact")
    return access_value_case(user, pk, queryset=qs)


def _choices() -> dict:
    return {
        "contributors": Contributor.choices,
        "activities": ValueChainActivity.choices,
        "basis_kinds": BasisKind.choices,
        "confidences": Confidence.choices,
        "cost_kinds": CostKind.choices,
        "mental_kinds": MentalKind.choices,
        "rating_values": [1, 2, 3, 4, 5],
    }


def _case_context(request, case: ValueCase, **extra) -> dict:
    figures = selectors.case_figures(case)
    can_edit = editable_value_cases(request.user).filter(pk=case.pk).exists()
    contacts = list(case.opportunity.account.contacts.order_by("name").only("id", "name", "title", "language"))
    ack = getattr(case, "acknowledgement", None) if hasattr(case, "acknowledgement") else None
    realisation = (
        selectors.realisation_for_case(case) if case.state in (CaseState.AT_CLOSE, CaseState.REALISED) else None
    )
    context = {
        "case": case,
        "opportunity": case.opportunity,
        "figures": figures.as_decimals(),
        "exact": figures,
        "sensitivity": selectors.case_sensitivity(case, figures),
        "versions": list(selectors.versions_of(case)),
        "can_edit": can_edit,
        "is_draft": case.state == CaseState.DRAFT,
        "contacts": contacts,
        "acknowledgement": ack,
        "comments": list(case.customer_comments.all()),
        "realisation": realisation,
        "realisations": list(case.realisations.select_related("driver")) if realisation else [],
        "errors": {},
        "posted": {},
        "form": "",
        **_choices(),
    }
    context["chart"] = {
        "currency": case.currency,
        "base": str(context["figures"]["net"]),
        "bars": context["sensitivity"][:12],
        "labels": {"down": _("Net value falls"), "up": _("Net value rises"), "net": _("Net value")},
    }
    context.update(extra)
    return context


@login_required
def case_list(request):
    flagged = request.GET.get("flagged") == "1"
    state = request.GET.get("state") or None
    if state not in CaseState.values:
        state = None
    page = selectors.value_case_page(request.user, cursor=request.GET.get("cursor"), flagged=flagged, state=state)
    is_manager = request.user.role in (Role.MANAGER, Role.ADMIN) or is_admin(request.user)
    return render(
        request,
        "valuecase/list.html",
        {"page": page, "flagged": flagged, "state": state, "states": CaseState.choices, "is_manager": is_manager},
    )


@login_required
@domain_errors
def opportunity_case(request, opportunity_id: int):
    """The latest version of an opportunity's case; with POST, start a new version (or the first)."""
    from keyfit.pipeline.permissions import access_opportunity

    opportunity = access_opportunity(request.user, opportunity_id, write=request.method == "POST")
    if request.method == "POST":
        try:
            case = services.value_case_create(actor=request.user, opportunity=opportunity)
        except Conflict as exc:
            messages.error(request, exc.message)
            case_id = exc.extra.get("id")
            return redirect("valuecase:detail", case_id) if case_id else redirect("valuecase:list")
        return redirect("valuecase:detail", case.pk)
    latest = selectors.value_case_list(request.user, opportunity_id=opportunity.pk).order_by("-number").first()
    if latest is not None:
        return redirect("valuecase:detail", latest.pk)
    return render(request, "valuecase/start.html", {"opportunity": opportunity})


@login_required
@domain_errors
def case_detail(request, pk: int):
    case = _load(request.user, pk)
    return render(request, "valuecase/detail.html", _case_context(request, case))


def _rerender(request, pk, form: str, exc: ValidationFailed | Conflict):
    case = _load(request.user, pk)
    errors = exc.fields if isinstance(exc, ValidationFailed) else {"__all__": [exc.message]}
    context = _case_context(request, case, errors=errors, posted=request.POST, form=form)
    return render(request, "valuecase/detail.html", context, status=exc.status)


@login_required
@require_POST
@domain_errors
def case_settings(request, pk: int):
    case = access_value_case(request.user, pk, write=True)
    data = {k: request.POST.get(k, "") for k in services.SETTINGS_FIELDS if k in request.POST}
    if "perception_override" in data and not data["perception_override"].strip():
        data["perception_override"] = None
    try:
        services.value_case_update(actor=request.user, case=case, version=request.POST.get("version"), data=data)
    except (ValidationFailed, Conflict) as exc:
        return _rerender(request, pk, "settings", exc)
    messages.success(request, _("Saved."))
    return redirect("valuecase:detail", pk)


@login_required
@require_POST
@domain_errors
def line_add(request, pk: int, kind: str):
    if kind not in LINE_KINDS:
        raise NotFound()
    case = access_value_case(request.user, pk, write=True)
    fields = services.LINE_FIELDS[kind]
    data = {k: request.POST.get(k) for k in fields if k in request.POST}
    for key in ("quantity", "unit_value", "contact"):
        if key in data and not (data[key] or "").strip():
            data[key] = None
    try:
        services.value_case_line_add(actor=request.user, case=case, kind=kind, data=data)
    except (ValidationFailed, Conflict) as exc:
        return _rerender(request, pk, kind, exc)
    return redirect(reverse("valuecase:detail", args=[pk]) + f"#{kind}")


@login_required
@require_POST
@domain_errors
def line_delete(request, pk: int, kind: str, line_id: int):
    if kind not in LINE_KINDS:
        raise NotFound()
    case = access_value_case(request.user, pk, write=True)
    try:
        services.value_case_line_delete(actor=request.user, case=case, kind=kind, line_id=line_id)
    except Conflict as exc:
        return _rerender(request, pk, kind, exc)
    return redirect(reverse("valuecase:detail", args=[pk]) + f"#{kind}")


@login_required
@require_POST
@domain_errors
def case_send(request, pk: int):
    case = access_value_case(request.user, pk, write=True)
    contact = case.opportunity.account.contacts.filter(pk=request.POST.get("contact") or 0).first()
    try:
        case, token = services.value_case_send(
            actor=request.user, case=case, contact=contact, days=int(request.POST.get("days") or 30)
        )
    except (ValidationFailed, Conflict) as exc:
        return _rerender(request, pk, "send", exc)
    except ValueError:
        return _rerender(request, pk, "send", ValidationFailed(fields={"days": [_("Enter a whole number.")]}))
    url = request.build_absolute_uri(reverse("valuecase:customer", args=[case.pk, token]))
    case = _load(request.user, pk)
    # The link is shown once, in this response only; it is never stored in clear.
    return render(request, "valuecase/detail.html", _case_context(request, case, sent_url=url))


@login_required
@require_POST
@domain_errors
def case_revoke(request, pk: int):
    case = access_value_case(request.user, pk, write=True)
    services.value_case_revoke_links(actor=request.user, case=case)
    messages.success(request, _("The customer links of this version are revoked."))
    return redirect("valuecase:detail", pk)


@login_required
@require_POST
@domain_errors
def case_close(request, pk: int):
    case = access_value_case(request.user, pk, write=True)
    try:
        if request.POST.get("to") == "realised":
            services.value_case_mark_realised(actor=request.user, case=case)
        else:
            services.value_case_close(actor=request.user, case=case)
    except Conflict as exc:
        return _rerender(request, pk, "close", exc)
    return redirect("valuecase:detail", pk)


@login_required
@require_POST
@domain_errors
def realisation_add(request, pk: int):
    case = access_value_case(request.user, pk, write=True)
    try:
        services.realisation_add(
            actor=request.user,
            case=case,
            driver_id=request.POST.get("driver"),
            on=request.POST.get("on") or None,
            amount=request.POST.get("amount"),
            note=request.POST.get("note", ""),
        )
    except (ValidationFailed, Conflict) as exc:
        return _rerender(request, pk, "realised", exc)
    return redirect(reverse("valuecase:detail", args=[pk]) + "#realised")


@login_required
@domain_errors
def case_print(request, pk: int):
    case = _load(request.user, pk)
    return render(request, "valuecase/print.html", _case_context(request, case))


@login_required
@domain_errors
def case_export(request, pk: int):
    from keyfit.valuecase.export import case_workbook

    case = _load(request.user, pk)
    content = case_workbook(case, selectors.case_figures(case))
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="value-case-{case.opportunity_id}-v{case.number}.xlsx"'
    return response


# --- the customer's page ----------------------------------------------------------------------------


def _customer_language(request, case) -> str:
    chosen = request.GET.get("lang") or request.POST.get("lang")
    if chosen in ("en", "zh-hans"):
        return chosen
    return (case.sent_to.language if case.sent_to else None) or "zh-hans"


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def customer_page(request, pk: int, token: str):
    """What the customer sees through the link: the summary of this version only, comment, acknowledge."""
    client = client_address(request)
    try:
        if request.method == "POST":
            action = request.POST.get("action")
            if action == "acknowledge":
                services.customer_acknowledge(case_id=pk, token=token, client=client)
            elif action == "comment":
                try:
                    services.customer_comment(case_id=pk, token=token, body=request.POST.get("body", ""), client=client)
                except ValidationFailed as exc:
                    case = services.customer_case(case_id=pk, token=token, client=client)
                    return _render_customer(request, case, token, errors=exc.fields, status=422)
            else:
                raise NotFound()
            lang = _customer_language(request, services.customer_case(case_id=pk, token=token, client=client))
            return redirect(reverse("valuecase:customer", args=[pk, token]) + f"?lang={lang}&done={action}")
        case = services.customer_open(case_id=pk, token=token, client=client)
    except NotFound:
        return _plain(404, "Not found.")
    except RateLimited:
        return _plain(429, "Too many attempts. Please wait a few minutes and try again.")
    except Conflict:
        case = services.customer_case(case_id=pk, token=token, client=client)
    return _render_customer(request, case, token)


def _render_customer(request, case, token, errors=None, status=200):
    lang = _customer_language(request, case)
    figures = selectors.case_figures(case)
    drivers = list(case.drivers.all())
    costs = list(case.costs.all())
    with translation.override(lang):
        context = {
            "case": case,
            "token": token,
            "lang": lang,
            "figures": figures.as_decimals(),
            "drivers": drivers,
            "costs": costs,
            "means": {
                k: (Decimal(v.numerator) / Decimal(v.denominator)).quantize(Decimal("0.1")) if v else None
                for k, v in figures.dimension_means.items()
            },
            "acknowledged": case.state != CaseState.DRAFT and case.state != CaseState.SENT,
            "done": request.GET.get("done"),
            "errors": errors or {},
            "comments": list(case.customer_comments.all()),
        }
        response = render(request, "valuecase/customer.html", context, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # the token never leaves in a Referer to other sites
    return response
