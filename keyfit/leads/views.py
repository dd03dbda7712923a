"""Pages: the SDR queue, the lead page with screening and conversion, manual entry, the public web form."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from keyfit.core.audit import audit_for
from keyfit.core.errors import DomainError, NotFound, PermissionDenied
from keyfit.core.pagination import keyset_page
from keyfit.core.permissions import can_write
from keyfit.core.securelinks import client_address
from keyfit.leads import selectors, services
from keyfit.leads.choices import Source, Status
from keyfit.leads.forms import DisqualifyForm, LeadForm, PublicLeadForm, ReassignForm, ScreenTwoForm, SignalForm
from keyfit.leads.models import WebForm
from keyfit.leads.permissions import access_lead, can_route, editable_leads

PAGE = 25
FORM_TOKEN_SALT = "keyfit.leads.webform"
FORM_MIN_SECONDS = 2
FORM_MAX_AGE = 24 * 3600
FORM_RATE_LIMIT = 10  # submissions per address and form per hour


def _lead_or_404(user, pk, *, write=False):
    try:
        return access_lead(user, pk, write=write)
    except NotFound:
        raise Http404() from None


@login_required
def queue(request):
    """My queue (default) or every lead I may see, with filters and keyset pages."""
    view = request.GET.get("view", "queue")
    filters = {k: request.GET.get(k) for k in ("status", "source", "sla", "q", "owner") if request.GET.get(k)}
    try:
        if view == "all":
            page = keyset_page(
                selectors.lead_list(request.user, filters),
                order=selectors.LIST_ORDER,
                cursor=request.GET.get("cursor"),
                limit=PAGE,
            )
        else:
            page = keyset_page(
                selectors.lead_queue(request.user, filters),
                order=selectors.QUEUE_ORDER,
                cursor=request.GET.get("cursor"),
                limit=PAGE,
            )
    except DomainError:
        raise Http404() from None
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "view": view,
        "filters": filters,
        "query": query.urlencode(),
        "statuses": Status.choices,
        "sources": Source.choices,
        "notifications": selectors.notifications_unread(request.user, limit=5),
        "can_create": can_write(request.user),
    }
    template = "leads/_rows.html" if request.htmx else "leads/queue.html"
    return render(request, template, context)


@login_required
def lead_new(request):
    if not can_write(request.user):
        raise Http404()
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(
                actor=request.user, data=form.cleaned_data, route=request.POST.get("route") == "1"
            )
            messages.success(request, _("Lead created."))
            return redirect("leads:detail", pk=lead.pk)
        except DomainError as exc:
            _form_errors(form, exc)
    return render(request, "leads/lead_form.html", {"form": form}, status=422 if form.errors else 200)


def _form_errors(form, exc: DomainError) -> None:
    if exc.fields:
        for field, errors in exc.fields.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        form.add_error(None, exc.message)


@login_required
def lead_detail(request, pk):
    lead = _lead_or_404(request.user, pk)
    writable = editable_leads(request.user).filter(pk=lead.pk).exists()
    context = {
        "lead": lead,
        "writable": writable,
        "can_route": can_route(request.user),
        "signals": selectors.lead_signals(lead),
        "decisions": selectors.lead_decisions(lead, limit=20),
        "duplicates": selectors.lead_duplicates(request.user, lead),
        "unmet": services.unmet_messages(services.conversion_unmet(lead)) if lead.is_open else [],
        "threshold": services.value_threshold(lead),
        "events": audit_for(lead, limit=30),
        "screen2_form": ScreenTwoForm(
            initial={
                "version": lead.version,
                "need_confirmed": lead.need_confirmed,
                "purchase_intent": lead.purchase_intent,
                "estimated_value": lead.estimated_value,
                "currency": lead.currency,
                "bant_budget": lead.bant_budget,
                "bant_authority": lead.bant_authority,
                "bant_need": lead.bant_need,
                "bant_timeline": lead.bant_timeline,
            }
        ),
        "signal_form": SignalForm(initial={"originator": "customer"}),
        "disqualify_form": DisqualifyForm(prefix="dq"),
        "reassign_form": ReassignForm(prefix="ra") if can_route(request.user) else None,
    }
    return render(request, "leads/lead_detail.html", context)


def _act(request, pk, action):
    lead = _lead_or_404(request.user, pk)
    try:
        if not editable_leads(request.user).filter(pk=lead.pk).exists():
            raise PermissionDenied()
        message = action(lead)
        if message:
            messages.success(request, message)
    except PermissionDenied as exc:
        messages.error(request, exc.message)
        return redirect("leads:detail", pk=lead.pk)
    except DomainError as exc:
        details = [m for errors in exc.fields.values() for m in errors] if exc.fields else []
        messages.error(request, " ".join([exc.message, *details]))
    return redirect("leads:detail", pk=lead.pk)


@login_required
@require_POST
def lead_screen1(request, pk):
    def do(lead):
        lead = services.lead_screen1(actor=request.user, lead=lead)
        return _("Screen 1: fit score %(score)s, %(result)s.") % {
            "score": lead.fit_score,
            "result": lead.get_screen1_result_display(),
        }

    return _act(request, pk, do)


@login_required
@require_POST
def lead_screen2(request, pk):
    def do(lead):
        form = ScreenTwoForm(request.POST)
        if not form.is_valid():
            raise services.ValidationFailed(fields=form.errors)
        data = dict(form.cleaned_data)
        version = data.pop("version")
        lead = services.lead_screen2(actor=request.user, lead=lead, data=data, version=version)
        if lead.status == Status.QUALIFIED:
            return _("Screen 2 passed: the lead is qualified.")
        return _("Screen 2 saved.")

    return _act(request, pk, do)


@login_required
@require_POST
def lead_signal(request, pk):
    def do(lead):
        form = SignalForm(request.POST)
        if not form.is_valid():
            raise services.ValidationFailed(fields=form.errors)
        services.lead_signal_add(actor=request.user, lead=lead, **form.cleaned_data)
        return _("Signal recorded.")

    return _act(request, pk, do)


@login_required
@require_POST
def lead_convert(request, pk):
    result = {}

    def do(lead):
        result.update(
            services.lead_convert(
                actor=request.user, lead=lead, opportunity_name=request.POST.get("opportunity_name", "")
            )
        )
        return _("Converted: the opportunity is in S3 Guiding expectations.")

    response = _act(request, pk, do)
    if result.get("opportunity"):
        opportunity = result["opportunity"]
        url = getattr(opportunity, "get_absolute_url", None)
        if url:
            return redirect(url())
    return response


@login_required
@require_POST
def lead_disqualify(request, pk):
    def do(lead):
        form = DisqualifyForm(request.POST, prefix="dq")
        if not form.is_valid():
            raise services.ValidationFailed(fields=form.errors)
        services.lead_disqualify(
            actor=request.user, lead=lead, reason_code=form.cleaned_data["reason"].code, note=form.cleaned_data["note"]
        )
        return _("Lead disqualified.")

    return _act(request, pk, do)


@login_required
@require_POST
def lead_touch(request, pk):
    return _act(
        request,
        pk,
        lambda lead: services.lead_first_touch(actor=request.user, lead=lead) and _("First touch recorded."),
    )


@login_required
@require_POST
def lead_reassign(request, pk):
    def do(lead):
        form = ReassignForm(request.POST, prefix="ra")
        if not form.is_valid():
            raise services.ValidationFailed(fields=form.errors)
        services.lead_reassign(
            actor=request.user, lead=lead, owner=form.cleaned_data["owner"], reason=form.cleaned_data["reason"]
        )
        return _("Lead re-assigned.")

    return _act(request, pk, do)


@login_required
@require_POST
def lead_merge(request, pk):
    def do(lead):
        source = access_lead(request.user, request.POST.get("source_id"), write=True)
        services.leads_merge(actor=request.user, target=lead, sources=[source])
        return _("Leads merged.")

    return _act(request, pk, do)


# --- public web form -----------------------------------------------------------------------------


def _form_token(slug: str) -> str:
    return signing.dumps({"f": slug, "t": int(time.time())}, salt=FORM_TOKEN_SALT)


def _token_ok(token: str, slug: str) -> bool:
    """A signed, timestamped token bound to the form, sent no sooner than a person could fill it in."""
    try:
        data = signing.loads(token or "", salt=FORM_TOKEN_SALT, max_age=FORM_MAX_AGE)
    except signing.BadSignature:
        return False
    return data.get("f") == slug and time.time() - int(data.get("t", 0)) >= FORM_MIN_SECONDS


def _rate_limited(slug: str, client: str) -> bool:
    key = f"leads:webform:{slug}:{client}"
    cache.add(key, 0, 3600)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 3600)
        count = 1
    return count > FORM_RATE_LIMIT


def _visitor_language(request) -> str:
    lang = request.GET.get("lang") or request.POST.get("language") or translation.get_language_from_request(request)
    return "en" if str(lang).lower().startswith("en") else "zh-hans"


@csrf_exempt  # no session to ride on: a signed per-form token replaces the cookie so the form can be embedded
@xframe_options_exempt
def web_form(request, slug):
    form_def = get_object_or_404(WebForm, slug=slug, active=True)
    language = _visitor_language(request)
    with translation.override(language):
        form = PublicLeadForm(request.POST or None, initial={"token": _form_token(slug), "language": language})
        status = 200
        if request.method == "POST":
            client = client_address(request)
            if _rate_limited(slug, client):
                form.add_error(None, _("Too many submissions from your address. Please try again later."))
                status = 429
            elif not _token_ok(request.POST.get("token", ""), slug):
                form.add_error(None, _("This form has expired. Please reload the page and send it again."))
                status = 400
            elif form.is_valid():
                data = form.cleaned_data
                if not data.get("website"):  # the honeypot stays empty for people
                    try:
                        services.web_form_submit(form=form_def, data=data, language=language)
                    except DomainError as exc:
                        _form_errors(form, exc)
                        status = 422
                if status == 200:
                    return redirect(f"{request.path}thanks/?lang={language}")
            else:
                status = 422
        response = render(
            request, "leads/web_form.html", {"form": form, "form_def": form_def, "language": language}, status=status
        )
    return _embeddable(response)


@xframe_options_exempt
def web_form_thanks(request, slug):
    form_def = get_object_or_404(WebForm, slug=slug, active=True)
    language = _visitor_language(request)
    with translation.override(language):
        response = render(request, "leads/web_form_thanks.html", {"form_def": form_def, "language": language})
    return _embeddable(response)


EMBEDDABLE_CSP = {**settings.SECURE_CSP, "frame-ancestors": ["*"]}


def _embeddable(response):
    response._csp_config = EMBEDDABLE_CSP
    return response
