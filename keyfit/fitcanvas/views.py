"""Pages: waves for the supplier team, and the customer questionnaire behind a secure link (no login, no JS)."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keyfit.accounts.permissions import editable_accounts, visible_contacts
from keyfit.core.errors import DomainError, NotFound, PermissionDenied, RateLimited
from keyfit.core.pagination import keyset_page
from keyfit.core.permissions import can_write
from keyfit.core.securelinks import client_address
from keyfit.fitcanvas import selectors, services
from keyfit.fitcanvas.choices import SCALE, Element, Horizon, Level, Side, WaveStatus
from keyfit.fitcanvas.forms import ShareForm, WaveForm
from keyfit.fitcanvas.models import Rater, Statement
from keyfit.fitcanvas.permissions import can_edit_templates, editable_waves

LANGS = dict(settings.LANGUAGES)


def _lang(value: str | None, default: str) -> str:
    value = (value or "").lower()
    return value if value in LANGS else (default if default in LANGS else settings.LANGUAGE_CODE)


def respondent_payload(rater: Rater, lang: str) -> dict[str, Any]:
    """What a rater may see: the questions in their side's phrasing, their own answers and, for a customer
    after closing, the aggregates the KAM shared. Nothing else."""
    wave = rater.wave
    lang = _lang(lang, rater.language)
    field = ("customer_" if rater.side == Side.CUSTOMER else "supplier_") + (
        "zh_hans" if lang.startswith("zh") else "en"
    )
    own = selectors.rater_answers(rater)
    elements = []
    with translation.override(lang):
        for group in selectors.questionnaire(wave.template_id):
            elements.append(
                {
                    "code": group["code"],
                    "name": str(Element(group["code"]).label),
                    "statements": [
                        {"id": s.pk, "code": s.code, "text": getattr(s, field), "answer": own.get(s.pk)}
                        for s in group["statements"]
                    ],
                }
            )
    total = sum(len(e["statements"]) for e in elements)
    return {
        "language": lang,
        "account": wave.account.name,
        "wave": wave.name,
        "status": wave.status,
        "due_date": wave.due_date,
        "can_answer": wave.status == WaveStatus.OPEN,
        "submitted": rater.submitted_at is not None,
        "horizon": rater.horizon,
        "answered": sum(1 for e in elements for s in e["statements"] if s["answer"] is not None),
        "total": total,
        "elements": elements,
        "shared_results": selectors.shared_results(wave) if rater.side == Side.CUSTOMER else None,
    }


def _parse_scores(post, statement_ids: list[int]) -> dict[int, int]:
    answers: dict[int, int] = {}
    for sid in statement_ids:
        raw = post.get(f"s{sid}")
        if raw is None or raw == "":
            continue
        try:
            answers[sid] = int(raw)
        except ValueError:
            answers[sid] = -1  # rejected by the service with a field error
    return answers


def _questionnaire_page(request, *, rater: Rater, lang: str, base_url: str, template: str, audit_client: str):
    """GET renders one element (``?step=``) or the final page; POST saves the step and moves on."""
    payload = respondent_payload(rater, lang)
    elements = payload["elements"]
    last_step = len(elements)  # the final page: horizon and submit
    try:
        step = min(max(int(request.POST.get("step", request.GET.get("step", 0))), 0), last_step)
    except ValueError:
        step = 0
    error = None
    status = 200
    if request.method == "POST" and payload["can_answer"]:
        action = request.POST.get("action", "next")
        ids = [s["id"] for s in elements[step]["statements"]] if step < last_step else []
        horizon = request.POST.get("horizon") if step == last_step else None
        try:
            services.answers_save(
                rater=rater,
                actor=request.user if request.user.is_authenticated else None,
                answers=_parse_scores(request.POST, ids),
                horizon=horizon,
                submit=action == "submit",
                client=audit_client,
            )
        except DomainError as exc:
            error = exc.message
            status = 422
        else:
            target = {"back": step - 1, "next": step + 1, "save": step, "submit": last_step}.get(action, step + 1)
            query = f"?step={max(0, min(target, last_step))}&lang={payload['language']}"
            if action == "submit":
                query += "&done=1"
            elif action == "save":
                query += "&saved=1"
            return HttpResponseRedirect(base_url + query)
        payload = respondent_payload(rater, lang)
    with translation.override(payload["language"]):
        context = {
            "p": payload,
            "rater": rater,
            "step": step,
            "last_step": last_step,
            "element": elements[step] if step < last_step else None,
            "scale": [(v, str(label)) for v, label in SCALE],
            "horizons": [(v, str(label)) for v, label in Horizon.choices],
            "base_url": base_url,
            "other_lang": "en" if payload["language"].startswith("zh") else "zh-hans",
            "error": error,
            "saved": request.GET.get("saved") == "1",
            "done": request.GET.get("done") == "1",
            "steps": [
                {
                    "index": i,
                    "name": e["name"],
                    "answered": sum(1 for s in e["statements"] if s["answer"] is not None),
                    "total": len(e["statements"]),
                }
                for i, e in enumerate(elements)
            ],
            "shared": _shared_display(payload["shared_results"]),
        }
        response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    response["Content-Language"] = payload["language"]
    return response


def _shared_display(shared: dict[str, Any] | None) -> dict[str, Any] | None:
    if not shared:
        return None
    out: dict[str, Any] = dict(shared)
    if "levels" in shared:
        out["levels"] = [(str(Level(code).label), v) for code, v in shared["levels"].items()]
    if "elements" in shared:
        out["elements"] = [(str(Element(code).label), v) for code, v in shared["elements"].items()]
    for key in ("strengths", "improvement_areas"):
        if key in shared:
            out[key] = [str(Element(code).label) for code in shared[key]]
    if shared.get("band"):
        out["band"] = str(BANDS.get(shared["band"], shared["band"]))
    return out


def respond(request, token: str):
    """The customer questionnaire. Every bad token gets the same plain 404; repeated ones a 429."""
    client = client_address(request)
    try:
        rater = services.respondent_resolve(token=token, client=client)
    except RateLimited:
        return HttpResponse(
            _("Too many attempts. Please wait a few minutes and try again."),
            status=429,
            content_type="text/plain; charset=utf-8",
        )
    except NotFound:
        raise Http404() from None
    if request.method == "GET":
        services.respondent_audit(rater=rater, verb="open", client=client)
    lang = request.POST.get("lang") or request.GET.get("lang") or rater.language
    return _questionnaire_page(
        request,
        rater=rater,
        lang=lang,
        base_url=reverse("fitcanvas:respond", args=[token]),
        template="fitcanvas/respond.html",
        audit_client=client,
    )


@login_required
def answer(request, wave_id: int):
    """The in-app questionnaire of a supplier rater (supplier phrasing)."""
    wave = _access(request, wave_id)
    rater = selectors.supplier_rater_for(wave, request.user)
    if rater is None:
        raise Http404()
    if request.method == "POST" and not can_write(request.user):
        raise Http404()
    lang = request.POST.get("lang") or request.GET.get("lang") or translation.get_language()
    return _questionnaire_page(
        request,
        rater=rater,
        lang=lang,
        base_url=reverse("fitcanvas:answer", args=[wave.pk]),
        template="fitcanvas/answer.html",
        audit_client=client_address(request),
    )


BANDS = {
    "exploratory": _("exploratory"),
    "basic": _("basic"),
    "cooperative": _("cooperative"),
    "interdependent": _("interdependent"),
    "integrated": _("integrated"),
}


GAP_CLASSES = {"aligned": _("aligned"), "partial": _("partial"), "significant": _("significant")}
HORIZON_VIEWS = {"short": _("short-term"), "long": _("long-term"), "mixed": _("mixed")}


def _access(request, wave_id: int, write: bool = False):
    try:
        return selectors.access_wave(request.user, wave_id, write=write)
    except NotFound:
        raise Http404() from None
    except PermissionDenied:
        raise DjangoPermissionDenied() from None


@login_required
def wave_list(request):
    qs = selectors.wave_list(request.user, status=request.GET.get("status") or None)
    page = keyset_page(qs, order=("-due_date", "-id"), cursor=request.GET.get("cursor"), limit=settings.PAGE_SIZE)
    form = None
    if can_write(request.user):
        form = WaveForm(
            request.POST or None,
            accounts=editable_accounts(request.user).order_by("name"),
            templates=selectors.template_list(request.user),
        )
        if request.method == "POST" and form.is_valid():
            try:
                account = selectors.access_account(request.user, form.cleaned_data["account"].pk, write=True)
                wave = services.wave_create(
                    account=account,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    due_date=form.cleaned_data["due_date"],
                    template=form.cleaned_data["template"],
                    notes=form.cleaned_data["notes"],
                )
            except DomainError as exc:
                for field, errs in exc.fields.items():
                    form.add_error(field if field in form.fields else None, errs)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                return HttpResponseRedirect(reverse("fitcanvas:wave", args=[wave.pk]))
    return render(request, "fitcanvas/wave_list.html", {"page": page, "form": form, "statuses": WaveStatus.choices})


def _results_context(wave, results) -> dict[str, Any]:
    elements = []
    for code, label in Element.choices:
        row = dict(results["elements"][code])
        row.update(code=code, name=str(label), gap_class_label=GAP_CLASSES.get(row["gap_class"] or "", ""))
        elements.append(row)
    chart = {
        "labels": {
            "supplier": _("Supplier"),
            "customer": _("Customer"),
            "gap": _("Gap (S − C)"),
            "overall": _("Overall fit"),
        },
        "elements": [
            {
                "code": e["code"],
                "name": e["name"],
                "level": e["level"],
                "supplier": e["supplier"],
                "customer": e["customer"],
                "gap": e["gap"],
            }
            for e in elements
        ],
        "levels": [str(label) for _code, label in Level.choices],
        "trend": results.get("trend", []),
    }
    by_code = {e["code"]: e for e in elements}
    return {
        "results": results,
        "elements": elements,
        "levels": [
            (str(label), results["sides"]["supplier"]["levels"][code], results["sides"]["customer"]["levels"][code])
            for code, label in Level.choices
        ],
        "areas": [by_code[c] for c in results["improvement_areas"]],
        "strengths": [by_code[c] for c in results["strengths"]],
        "persistent": [by_code[c] for c in results.get("persistent_bias", [])],
        "band": BANDS.get(results["maturity_band"] or "", ""),
        "horizon_supplier": HORIZON_VIEWS.get(results["horizon"]["supplier"] or "", "—"),
        "horizon_customer": HORIZON_VIEWS.get(results["horizon"]["customer"] or "", "—"),
        "chart": chart,
    }


@login_required
def wave_detail(request, wave_id: int, new_links=None):
    wave = _access(request, wave_id)
    writable = editable_waves(request.user).filter(pk=wave.pk).exists()
    results = selectors.wave_results(wave)
    context = {
        "wave": wave,
        "writable": writable,
        "raters": selectors.rater_list(wave),
        "my_rater": selectors.supplier_rater_for(wave, request.user),
        "new_links": new_links,
        "contacts": visible_contacts(request.user)
        .filter(account=wave.account)
        .exclude(fit_raters__wave=wave)
        .order_by("name")
        if writable
        else [],
        "share_form": ShareForm(initial={"items": wave.shared_items}),
        "has_results": any(v is not None for v in results["sides"]["supplier"]["elements"].values())
        or any(v is not None for v in results["sides"]["customer"]["elements"].values()),
        **_results_context(wave, results),
    }
    if writable:
        from keyfit.users.models import User

        context["users"] = (
            User.objects.filter(is_active=True).exclude(fit_raters__wave=wave).order_by("full_name")[:500]
        )
    return render(request, "fitcanvas/wave_detail.html", context)


@login_required
@require_POST
def wave_action(request, wave_id: int, action: str):
    wave = _access(request, wave_id, write=True)
    base = services.site_base_url(request)
    try:
        if action == "open":
            services.wave_open(wave=wave, actor=request.user)
            messages.success(request, _("The wave is open."))
        elif action == "invite":
            ids = [int(i) for i in request.POST.getlist("rater") if i.isdigit()]
            links = services.wave_invite(wave=wave, actor=request.user, rater_ids=ids or None, base_url=base)
            messages.success(request, _("Invitations sent."))
            return wave_detail(request, wave.pk, new_links=links)
        elif action == "remind":
            count = services.wave_remind(wave=wave, actor=request.user, base_url=base)
            messages.success(request, _("%(count)d reminder(s) sent.") % {"count": count})
        elif action == "close":
            services.wave_close(wave=wave, actor=request.user)
            messages.success(request, _("The wave is closed and its results are frozen."))
        elif action == "share":
            form = ShareForm(request.POST)
            form.is_valid()
            services.wave_share(wave=wave, actor=request.user, items=form.cleaned_data.get("items", []))
            messages.success(request, _("Sharing updated."))
        elif action == "add-rater":
            from keyfit.users.models import User

            if request.POST.get("user"):
                user = get_object_or_404(User, pk=request.POST["user"], is_active=True)
                services.rater_add(
                    wave=wave, actor=request.user, user=user, role_label=request.POST.get("role_label", "")
                )
            elif request.POST.get("contact"):
                contact = selectors.access_contact(request.user, int(request.POST["contact"]))
                services.rater_add(
                    wave=wave, actor=request.user, contact=contact, role_label=request.POST.get("role_label", "")
                )
        elif action == "revoke-link":
            rater = get_object_or_404(Rater, wave=wave, pk=request.POST.get("rater"))
            services.rater_link_revoke(rater=rater, actor=request.user)
            messages.success(request, _("The link of %(name)s no longer works.") % {"name": rater.display_name})
        elif action == "delete":
            services.wave_delete(wave=wave, actor=request.user)
            return HttpResponseRedirect(reverse("fitcanvas:waves"))
        else:
            raise Http404()
    except (DomainError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        fields = getattr(exc, "fields", {})
        messages.error(request, " ".join([message, *[m for msgs in fields.values() for m in msgs]]))
    return HttpResponseRedirect(reverse("fitcanvas:wave", args=[wave.pk]))


@login_required
def wave_export(request, wave_id: int):
    from keyfit.fitcanvas.export import results_workbook

    wave = _access(request, wave_id)
    content = results_workbook(wave, selectors.wave_results(wave))
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="fit-wave-{wave.pk}.xlsx"'
    return response


@login_required
def template_list(request):
    return render(
        request,
        "fitcanvas/template_list.html",
        {"templates": selectors.template_list(request.user), "can_edit": can_edit_templates(request.user)},
    )


@login_required
def template_detail(request, template_id: int):
    try:
        template = selectors.access_template(request.user, template_id)
    except NotFound:
        raise Http404() from None
    if request.method == "POST":
        try:
            copy = services.template_copy(template=template, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            return HttpResponseRedirect(reverse("fitcanvas:template", args=[copy.pk]))
    groups = [
        {"name": str(Element(g["code"]).label), "code": g["code"], "statements": g["statements"]}
        for g in selectors.questionnaire(template.pk)
    ]
    retired = Statement.objects.filter(template=template, retired=True)
    return render(
        request,
        "fitcanvas/template_detail.html",
        {
            "template": template,
            "groups": groups,
            "retired": retired,
            "can_edit": can_edit_templates(request.user),
            "frozen": template.waves.exists(),
        },
    )
