"""Pages of the pipeline: board, list with saved views, detail with timeline, forms and dialogs."""

import functools
import html
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from keyfit.accounts.permissions import visible_accounts, visible_contacts
from keyfit.core import frames
from keyfit.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from keyfit.core.models import SavedView
from keyfit.core.money import format_money
from keyfit.core.permissions import can_write, is_admin
from keyfit.pipeline import lookups, selectors, services
from keyfit.pipeline.choices import MNE, ForecastCategory, PreviousLink, StageKind
from keyfit.pipeline.forms import (
    ActivityForm,
    DealContactForm,
    LostForm,
    MoveForm,
    OpportunityCreateForm,
    OpportunityEditForm,
    RequirementForm,
    WonForm,
)
from keyfit.pipeline.gates import get_requirement
from keyfit.pipeline.models import ActivityQuestion, PipelineSettings, Question, Stage, StageRequirement
from keyfit.pipeline.permissions import (
    access_activity,
    access_opportunity,
    can_edit_opportunity,
    ensure_editable,
    visible_opportunities,
)
from keyfit.pipeline.templatetags.pipeline_tags import board_columns_html
from keyfit.users.models import Team, User

LIST_KEY = "opportunities"
# A column first shows BOARD_FIRST cards (about what a screen shows without scrolling), then loads
# BOARD_PAGE more each time its end scrolls into view: the board's first paint stays small at any size.
BOARD_FIRST = 10
BOARD_PAGE = 20


def domain_errors(view):
    """Out of scope → 404, visible but not writable → 403, for pages."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404() from None
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(exc.message) from None

    return wrapper


def _apply_errors(form, error: ValidationFailed) -> None:
    for field, msgs in error.fields.items():
        name = field if field in form.fields else None
        for msg in msgs:
            form.add_error(name, msg)
    if not error.fields:
        form.add_error(None, error.message)


def _filters(request) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip() for k in selectors.FILTER_KEYS if request.GET.get(k, "").strip()}


def _options_html(rows, selected: str | None):
    """<option> tags (value, label) with `selected` marked, built in one pass; every value is escaped."""
    esc = html.escape
    return mark_safe(  # every value and label is escaped here
        "".join(
            f'<option value="{esc(value)}"{" selected" if value == selected else ""}>{esc(str(label))}</option>'
            for value, label in rows
        )
    )


def _filter_context(request):
    """The filter form's pickers (stages and teams from the cached lookups: no query)."""
    filters = _filters(request)
    data = lookups.lookups()
    stages = [(s.code, s.name) for s in data["stages"] if s.active and s.kind != StageKind.LEAD]
    return {
        "filters": filters,
        "stage_options": _options_html(stages, filters.get("stage")),
        "team_options": _options_html([(str(pk), name) for pk, name in data["teams"]], filters.get("team")),
        "forecast_options": _options_html(ForecastCategory.choices, filters.get("forecast")),
    }


def _filter_slots(context) -> dict[str, str]:
    """The filter form's places in a page frame (pipeline/_filters.html), escaped."""
    esc = html.escape
    filters = context["filters"]
    return {
        "q": esc(filters.get("q", "")),
        "stage_options": context["stage_options"],
        "team_options": context["team_options"],
        "forecast_options": context["forecast_options"],
        "close_from": esc(filters.get("close_from", "")),
        "close_to": esc(filters.get("close_to", "")),
    }


# --- board -----------------------------------------------------------------------------------------


def _totals_text(totals):
    return " · ".join(format_money(amount, currency) for amount, currency in totals) or "—"


@login_required
def board(request):
    filters = _filters(request)
    columns = selectors.board(request.user, filters=filters, limit=BOARD_FIRST)
    detail_prefix = reverse("pipeline:list")
    query = urlencode(filters)
    context = {
        "columns": columns,
        "detail_prefix": detail_prefix,
        "query": query,
        "can_write": can_write(request.user),
        **_filter_context(request),
    }
    slots = {
        **_filter_slots(context),
        "query": html.escape(query),
        "columns": board_columns_html(columns, detail_prefix, query),
    }
    # The page below the layout is rendered once per language (keyfit.core.frames) and filled here.
    context["body"] = frames.fill("pipeline/_board_frame.html", {"can_write": context["can_write"]}, slots)
    return render(request, "pipeline/board.html", context)


@login_required
def board_column(request, stage_code):
    stage = lookups.stage_by_code(stage_code)
    if stage is None or not stage.active:
        raise Http404()
    filters = _filters(request)
    page = selectors.board_cards(
        request.user, stage=stage, filters=filters, cursor=request.GET.get("cursor"), limit=BOARD_PAGE
    )
    return render(
        request,
        "pipeline/_board_cards.html",
        {
            "cards": page.items,
            "next_cursor": page.next_cursor,
            "stage": stage,
            "query": urlencode(filters),
            "detail_prefix": reverse("pipeline:list"),
        },
    )


# --- list and saved views -------------------------------------------------------------------------


@login_required
def opportunity_list(request):
    order = request.GET.get("order", "recent")
    page = selectors.opportunity_page(
        request.user, filters=_filters(request), order=order, cursor=request.GET.get("cursor"), limit=50
    )
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "page": page,
        "detail_prefix": reverse("pipeline:list"),
        "order": order,
        "query": params.urlencode(),
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "pipeline/_list_rows.html", context)
    context.update(can_write=can_write(request.user), saved_views=saved_views(request.user), **_filter_context(request))
    slots = {
        **_filter_slots(context),
        "query": html.escape(context["query"]),
        "saved_views": _saved_views_html(request, context["saved_views"]),
        "csrf_input": frames.csrf_input(request),
        "rows": get_template("pipeline/_list_rows.html").render(context),
    }
    # The page below the layout is rendered once per language (keyfit.core.frames) and filled here.
    context["body"] = frames.fill("pipeline/_list_frame.html", {"can_write": context["can_write"]}, slots)
    return render(request, "pipeline/list.html", context)


# A user's saved views of the list, read on every list page: kept in the shared cache until one of them
# changes (forget_saved_views, connected in keyfit.pipeline.apps; SAVED_VIEWS_TTL bounds a missed signal).
SAVED_VIEWS_TTL = 300  # seconds


def saved_views_key(user_id: int) -> str:
    return f"pipeline:saved-views:v1:{user_id}"


def saved_views(user) -> list[tuple[int, str, str]]:
    """(pk, name, query) of `user`'s saved views of the opportunity list, by name."""
    key = saved_views_key(user.pk)
    views = cache.get(key)
    if views is None:
        views = list(SavedView.objects.filter(user=user, list_key=LIST_KEY).values_list("pk", "name", "query"))
        cache.set(key, views, SAVED_VIEWS_TTL)
    return views


def forget_saved_views(*, instance, **kwargs) -> None:
    if instance.list_key != LIST_KEY:
        return
    key = saved_views_key(instance.user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)  # a page read meanwhile keeps nothing stale


_SAVED_VIEW = (
    '<li><a href="?{query}">{name}</a>\n'
    '    <form method="post" action="{delete_url}" class="inline">{csrf}'
    '<button type="submit" class="link" aria-label="{delete} {name}">×</button></form></li>\n  '
)


def _saved_views_html(request, views) -> str:
    """The saved views' items (link, delete button) or the empty note, every value escaped."""
    esc = html.escape
    if not views:
        nothing = _("No saved views yet.")
        return f'<li class="muted">{esc(nothing)}</li>'
    csrf = frames.csrf_input(request)
    delete = esc(_("Delete"))
    return "".join(
        _SAVED_VIEW.format(
            query=esc(query),
            name=esc(name),
            delete_url=esc(reverse("pipeline:view_delete", args=[pk])),
            csrf=csrf,
            delete=delete,
        )
        for pk, name, query in views
    )


@login_required
@require_POST
def saved_view_create(request):
    name = request.POST.get("name", "").strip()[:100]
    query = request.POST.get("query", "")[:2000]
    if name:
        SavedView.objects.update_or_create(user=request.user, list_key=LIST_KEY, name=name, defaults={"query": query})
        messages.success(request, _("View saved."))
    return redirect(f"{reverse('pipeline:list')}?{query}")


@login_required
@require_POST
def saved_view_delete(request, pk):
    SavedView.objects.filter(user=request.user, list_key=LIST_KEY, pk=pk).delete()
    return redirect("pipeline:list")


# --- create / detail / edit -----------------------------------------------------------------------


@login_required
@domain_errors
def opportunity_create(request):
    if not can_write(request.user):
        raise PermissionDenied()
    accounts = visible_accounts(request.user).order_by("name")
    initial = {"account": request.GET.get("account")}
    title = _("New opportunity")
    earlier = None
    follow = request.POST.get("previous") or request.GET.get("previous")
    if follow and follow.isdigit():  # "start a renewal / expansion" of an earlier deal: same account, currency, link
        earlier = visible_opportunities(request.user).select_related("account").filter(pk=follow).first()
    if earlier is not None:
        link = request.GET.get("link") if request.GET.get("link") in PreviousLink.values else PreviousLink.RENEWAL
        initial.update(
            account=earlier.account_id,
            previous=earlier.pk,
            previous_link=link,
            currency=earlier.currency,
            name=f"{earlier.name} · {PreviousLink(link).label}",
            amount=earlier.amount,
        )
        title = _("%(link)s of %(name)s") % {"link": PreviousLink(link).label, "name": earlier.name}
    form = OpportunityCreateForm(
        request.POST or None,
        accounts=accounts,
        opportunities=visible_opportunities(request.user),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                opp = services.opportunity_create(
                    actor=request.user,
                    account=data["account"],
                    name=data["name"],
                    owner=request.user,
                    amount=data["amount"],
                    currency=data["currency"],
                    expected_close_date=data["expected_close_date"],
                    custom_fields=form.custom_values(),
                    previous=data["previous"],
                    previous_link=data["previous_link"] if data["previous"] else "",
                )
                ensure_editable(request.user, opp)
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        else:
            return redirect("pipeline:detail", pk=opp.pk)
    return render(request, "pipeline/form.html", {"form": form, "title": title, "earlier": earlier})


def _options(choices, selected: str):
    """<option> tags in one pass (the move form's pickers; every value escaped)."""
    esc = html.escape
    return mark_safe(  # escaped here
        "".join(
            f'<option value="{esc(str(value))}"{" selected" if str(value) == selected else ""}>{esc(str(label))}</option>'
            for value, label in choices
        )
    )


def _detail_context(request, opp, *, editable: bool, **extra):
    from keyfit.core.customfields import custom_field_display
    from keyfit.pipeline import detail_html, reference, timeline
    from keyfit.pipeline.panels import opportunity_panel_keys

    refs = reference.current()
    opp.stage = refs.stages.get(opp.stage_id) or opp.stage  # (a row newer than the copy: read it)
    if opp.lost_reason_id is not None:
        opp.lost_reason = refs.all_lost_reasons.get(opp.lost_reason_id) or opp.lost_reason
    renderer = timeline.render_context(request, opp, lookups=refs, editable=editable)
    return {
        "opp": opp,
        "editable": editable,
        "is_admin": is_admin(request.user),
        "timeline_html": mark_safe(renderer.list(timeline.timeline_page(opp))),  # escaped by the renderer
        "stage_options": _options(
            [(s.code, s.name) for s in refs.move_stages(opp.stage_id)], getattr(extra.get("refused_stage"), "code", "")
        ),
        "lost_reason_options": _options(
            [("", MoveForm.base_fields["lost_reason"].empty_label)] + [(r.code, r.name) for r in refs.lost_reasons], ""
        ),
        "deal_card": detail_html.deal_card(
            opp, custom_field_display("opportunity", opp.custom_fields, definitions=refs.custom_fields)
        ),
        "mne_card": detail_html.mne_card(opp, refs.meddpicc_enabled),
        "panel_keys": opportunity_panel_keys(),  # each loads by its own request (opportunity_panel)
        **extra,
    }


def _detail_page(request, context, status=None):
    """The opportunity page: the part below the layout from its frame (rendered once per language and
    switches, keyfit.core.frames), filled with this deal's values."""
    from keyfit.pipeline.panels import opportunity_panel_keys

    opp, editable = context["opp"], context["editable"]
    esc = html.escape
    refusal = context.get("refusal")
    slots = {
        "pk": str(int(opp.pk)),
        "account_name": esc(opp.account.name),
        "opp_name": esc(opp.name),
        "stage_code": esc(opp.stage.code),
        "stage_name": esc(str(opp.stage.name)),
        "refusal": render_to_string("pipeline/_gate_refusal.html", {"refusal": refusal}) if refusal else "",
        "deal_card": context["deal_card"],
        "mne_card": context["mne_card"],
        "timeline_html": context["timeline_html"],
        "csrf_input": frames.csrf_input(request) if editable else "",
        "stage_options": context["stage_options"],
        "lost_reason_options": context["lost_reason_options"],
        "deal_contacts": _deal_contacts_html(opp, context.get("deal_contacts") or [], editable),
        "contracts": _contracts_html(context.get("contracts") or []),
    }
    switches = {
        "editable": bool(editable),
        "is_admin": bool(context["is_admin"]),
        "is_open": opp.stage.kind == "open",
        "panel_keys": tuple(opportunity_panel_keys()),
    }
    context["body"] = frames.fill("pipeline/_detail_frame.html", switches, slots, numbers=("pk",))
    return render(request, "pipeline/detail.html", context, status=status)


def _deal_contacts_html(opp, links, editable: bool) -> str:
    """The deal's contacts (name, role, key, MNE, edit link) or the empty note, every value escaped."""
    esc = html.escape
    if not links:
        nothing = _("No contacts yet.")
        return f'<li class="muted">{esc(nothing)}</li>'
    key, edit_label = pgettext("deal contact", "key"), _("edit")
    key_badge = f' <span class="badge ok">{esc(key)}</span>'
    edit = f'<a href="{esc(reverse("pipeline:deal_contact", args=[opp.pk]))}?contact={{}}">{esc(edit_label)}</a>'
    parts = []
    for link in links:
        role = f'<span class="badge">{esc(str(link.get_role_display()))}</span>' if link.role else ""
        mne = (
            f'<div class="muted">M: {esc(link.motivation) or "—"} · N: {esc(link.need) or "—"} · '
            f"E: {esc(link.expectations) or '—'}</div>"
            if link.motivation or link.need or link.expectations
            else ""
        )
        parts.append(
            f"<li><strong>{esc(link.contact.name)}</strong> {role}{key_badge if link.is_key else ''}\n"
            f"    {mne}\n"
            f"    {edit.format(int(link.contact_id)) if editable else ''}</li>\n  "
        )
    return "".join(parts)


def _contracts_html(contracts) -> str:
    """The deal's contracts section (none when it has no contract), every value escaped."""
    if not contracts:
        return ""
    from keyfit.pipeline.templatetags.pipeline_tags import card_money

    esc = html.escape
    per_year = esc(_("per year"))
    items = "".join(
        f"<li>{c.start_date.isoformat() if c.start_date else ''} – {c.end_date.isoformat() if c.end_date else ''}"
        f" · {esc(card_money(c.annual_recurring_value, c.currency))} {per_year}</li>"
        for c in contracts
    )
    title = _("Contracts")
    return f'<section class="card"><h2>{esc(title)}</h2><ul class="plain">\n    {items}</ul></section>'


@login_required
@domain_errors
def opportunity_detail(request, pk):
    data = selectors.opportunity_page_data(request.user, pk)
    context = _detail_context(
        request, data.opportunity, editable=data.editable, deal_contacts=data.deal_contacts, contracts=data.contracts
    )
    return _detail_page(request, context)


@login_required
@domain_errors
def opportunity_panel(request, pk, key):
    """One panel another app contributes to the opportunity page (htmx: the panel alone, empty when it
    shows nothing; otherwise a page of its own)."""
    from keyfit.pipeline.panels import opportunity_panel as panel_for

    opp = access_opportunity(request.user, pk)
    try:
        panel = panel_for(key, request, opp)
    except KeyError:
        raise Http404() from None
    if request.htmx:
        if panel is None:
            return HttpResponse("")
        return render(request, panel["template"], {"opp": opp, "panel": panel})
    return render(request, "pipeline/panel.html", {"opp": opp, "panel": panel})


@login_required
@domain_errors
def opportunity_timeline(request, pk):
    """The timeline's next page (htmx: the entries alone; otherwise a page of its own)."""
    from keyfit.pipeline import reference, timeline

    opp = access_opportunity(request.user, pk)
    renderer = timeline.render_context(
        request, opp, lookups=reference.current(), editable=can_edit_opportunity(request.user, opp)
    )
    try:
        page = timeline.timeline_page(opp, cursor=request.GET.get("cursor"), limit=timeline.MORE_PAGE)
    except ValidationFailed:
        raise Http404() from None
    if request.htmx:
        return HttpResponse(renderer.page(page))
    return render(
        request,
        "pipeline/timeline.html",
        {"opp": opp, "timeline_html": mark_safe(renderer.list(page))},  # escaped by the renderer
    )


@login_required
@domain_errors
def opportunity_edit(request, pk):
    opp = access_opportunity(request.user, pk, write=True)
    initial = {name: getattr(opp, name, None) for name in OpportunityEditForm.base_fields}
    initial.update({name: getattr(opp, name) for name in OpportunityEditForm.MEDDPICC})
    initial["version"] = opp.version
    initial["owner"], initial["team"], initial["previous"] = opp.owner_id, opp.team_id, opp.previous_id
    form = OpportunityEditForm(
        request.POST or None,
        opportunity=opp,
        initial=initial,
        owners=User.objects.filter(is_active=True).order_by("full_name", "email"),
        teams=Team.objects.order_by("name"),
        earlier_deals=visible_opportunities(request.user)
        .filter(account_id=opp.account_id)
        .exclude(pk=opp.pk)
        .order_by("-created_at", "-id"),
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                updated = services.opportunity_update(
                    actor=request.user, opportunity=opp, version=form.cleaned_data["version"], data=form.changes()
                )
                ensure_editable(request.user, updated)  # handing a deal outside your scope is refused
        except Conflict as exc:
            conflict = exc.extra.get("current")
            form.add_error(None, exc.message)
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Opportunity saved."))
            return redirect("pipeline:detail", pk=opp.pk)
    return render(
        request,
        "pipeline/form.html",
        {"form": form, "title": _("Edit %(name)s") % {"name": opp.name}, "conflict": conflict, "opp": opp},
    )


# --- moves ----------------------------------------------------------------------------------------


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
@domain_errors
def opportunity_move(request, pk):
    opp = access_opportunity(request.user, pk, write=True)
    form = MoveForm(request.POST)
    if not form.is_valid():
        if _wants_json(request):
            return JsonResponse({"code": "validation_error", "fields": form.errors.get_json_data()}, status=422)
        messages.error(request, _("Choose a stage."))
        return redirect("pipeline:detail", pk=opp.pk)
    data = form.cleaned_data
    try:
        moved = services.opportunity_move(
            actor=request.user,
            opportunity=opp,
            stage_code=data["stage"].code,
            reason=data["reason"],
            override=data["override"],
            lost_reason=data["lost_reason"],
        )
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse(exc.as_dict(), status=exc.status)
        page = selectors.opportunity_page_data(request.user, pk)
        context = _detail_context(
            request,
            page.opportunity,
            editable=page.editable,
            deal_contacts=page.deal_contacts,
            contracts=page.contracts,
            refusal=exc,
            refused_stage=data["stage"],
        )
        return _detail_page(request, context, status=exc.status)
    if _wants_json(request):
        totals = selectors.board_totals(request.user, filters=_filters(request))
        codes = dict(Stage.objects.values_list("pk", "code"))
        return JsonResponse(
            {
                "stage": moved.stage.code,
                "version": moved.version,
                "columns": {
                    codes[stage_id]: {"count": entry["count"], "totals": _totals_text(entry["totals"])}
                    for stage_id, entry in totals.items()
                },
            }
        )
    messages.success(request, _("Moved to %(stage)s.") % {"stage": moved.stage.name})
    return redirect("pipeline:detail", pk=opp.pk)


@login_required
@domain_errors
def opportunity_won(request, pk):
    opp = access_opportunity(request.user, pk, write=True)
    form = WonForm(
        request.POST or None,
        initial={"currency": opp.currency, "annual_recurring_value": opp.amount},
    )
    refusal = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.opportunity_win(
                    actor=request.user,
                    opportunity=opp,
                    signed_on=data["signed_on"],
                    start_date=data["start_date"],
                    end_date=data["end_date"],
                    annual_recurring_value=data["annual_recurring_value"],
                    currency=data["currency"],
                    reason=data["reason"],
                )
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        except Conflict as exc:
            refusal = exc
        else:
            messages.success(request, _("Won. The customer enters onboarding."))
            return redirect("pipeline:detail", pk=opp.pk)
    return render(
        request, "pipeline/dialog.html", {"form": form, "opp": opp, "title": _("Mark as won"), "refusal": refusal}
    )


@login_required
@domain_errors
def opportunity_lost(request, pk):
    opp = access_opportunity(request.user, pk, write=True)
    form = LostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_move(
                actor=request.user,
                opportunity=opp,
                stage_code="lost",
                lost_reason=form.cleaned_data["lost_reason"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Marked as lost."))
            return redirect("pipeline:detail", pk=opp.pk)
    return render(request, "pipeline/dialog.html", {"form": form, "opp": opp, "title": _("Mark as lost")})


# --- contacts and activities -------------------------------------------------------------------------


@login_required
@domain_errors
def deal_contact(request, pk):
    opp = access_opportunity(request.user, pk, write=True)
    contacts = visible_contacts(request.user).filter(account_id=opp.account_id).order_by("name")
    form = DealContactForm(request.POST or None, contacts=contacts, initial={"contact": request.GET.get("contact")})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.opportunity_contact_set(actor=request.user, opportunity=opp, **data)
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        else:
            return redirect("pipeline:detail", pk=opp.pk)
    return render(request, "pipeline/dialog.html", {"form": form, "opp": opp, "title": _("Contact in this deal")})


def _asked_from_post(request):
    asked = []
    ids = [pk for pk in request.POST.getlist("asked") if pk.isdigit()]
    for question in Question.objects.filter(active=True, pk__in=ids):
        asked.append(
            {
                "question": question,
                "answer": request.POST.get(f"answer_{question.pk}", ""),
                "use_as": request.POST.get(f"use_as_{question.pk}", ""),
            }
        )
    return asked


def _answers_by_question(posted: list[dict]) -> dict[int, dict[str, str]]:
    """The questions ticked in a posted activity form (`_asked_from_post`): question id → answer and use."""
    return {item["question"].pk: {"answer": item["answer"], "use_as": item["use_as"]} for item in posted}


def _questions_with_answers(asked: dict) -> list:
    """The active question bank, each question carrying what was ticked for it (`asked`: question id →
    answer and use) as `.asked`, so that a form shown again keeps the questions asked and their answers."""
    questions = list(Question.objects.filter(active=True).order_by("position", "id"))
    for question in questions:
        question.asked = asked.get(question.pk)
    return questions


@login_required
@domain_errors
def activity_create(request, pk):
    opp = access_opportunity(request.user, pk, write=True)
    contacts = visible_contacts(request.user).filter(account_id=opp.account_id).order_by("name")
    form = ActivityForm(request.POST or None, contacts=contacts, initial={"kind": "visit", "channel": "field"})
    posted = _asked_from_post(request) if request.method == "POST" else None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.activity_create(
                actor=request.user,
                opportunity=opp,
                kind=data["kind"],
                subject=data["subject"],
                occurred_at=data["occurred_at"],
                duration_minutes=data["duration_minutes"],
                channel=data["channel"],
                outcome=data["outcome"],
                next_step=data["next_step"],
                next_step_date=data["next_step_date"],
                done=data["done"],
                contacts=data["contacts"],
                questions=posted,
            )
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Activity logged."))
            return redirect("pipeline:detail", pk=opp.pk)
    questions = _questions_with_answers(_answers_by_question(posted or []))
    return render(
        request,
        "pipeline/activity_form.html",
        {"form": form, "opp": opp, "questions": questions, "mne_choices": MNE.choices},
    )


@login_required
@require_POST
@domain_errors
def answer_use(request, pk):
    answer = get_object_or_404(ActivityQuestion.objects.select_related("activity"), pk=pk)
    if answer.activity.opportunity_id is None:
        raise Http404()
    opp = access_opportunity(request.user, answer.activity.opportunity_id, write=True)
    try:
        services.answer_use_as(actor=request.user, answer=answer, use_as=request.POST.get("use_as", ""))
    except ValidationFailed as exc:
        messages.error(request, "; ".join(m for msgs in exc.fields.values() for m in msgs))
    return redirect("pipeline:detail", pk=opp.pk)


@login_required
@require_POST
@domain_errors
def activity_done(request, pk):
    activity = access_activity(request.user, pk, write=True)
    try:
        services.activity_update(
            actor=request.user, activity=activity, version=int(request.POST.get("version", 0)), data={"done": True}
        )
    except Conflict:
        messages.error(request, _("Someone else changed this activity; reload and try again."))
    return redirect("pipeline:my_activities")


def _activity_home(activity) -> str:
    """Where an activity is shown: its opportunity's page, else its account's."""
    if activity.opportunity_id:
        return reverse("pipeline:detail", args=[activity.opportunity_id])
    return reverse("accounts:account_detail", args=[activity.account_id])


@login_required
@domain_errors
def activity_edit(request, pk):
    """Correct a logged activity: its facts, participants and the questions asked with their answers.
    The form carries the version it was read at; a stale save shows the current values and keeps the
    editor's input (nothing is overwritten)."""
    activity = access_activity(request.user, pk, write=True)
    opp = activity.opportunity
    contacts = visible_contacts(request.user).filter(account_id=activity.account_id).order_by("name")
    initial = {name: getattr(activity, name) for name in ActivityForm.base_fields if name != "contacts"}
    initial["contacts"] = list(activity.contacts.values_list("pk", flat=True))
    initial["version"] = activity.version
    form = ActivityForm(request.POST or None, contacts=contacts, initial=initial, with_version=True)
    conflict = None
    posted = _asked_from_post(request) if request.method == "POST" else None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        chosen = data.pop("contacts")
        data["occurred_at"] = data["occurred_at"] or activity.occurred_at
        try:
            services.activity_update(
                actor=request.user,
                activity=activity,
                version=version,
                data=data,
                contacts=chosen,
                questions=posted,
            )
        except Conflict as exc:
            conflict = exc.extra.get("current")
            form.add_error(None, exc.message)
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Activity saved."))
            return redirect(_activity_home(activity))
    if posted is not None:  # the editor's input is shown again as they sent it
        asked = _answers_by_question(posted)
    else:
        asked = {a.question_id: {"answer": a.answer, "use_as": a.used_as} for a in activity.asked.all()}
    questions = _questions_with_answers(asked)
    return render(
        request,
        "pipeline/activity_form.html",
        {
            "form": form,
            "opp": opp,
            "activity": activity,
            "questions": questions,
            "mne_choices": MNE.choices,
            "conflict": conflict,
            "back_url": _activity_home(activity),
        },
    )


@login_required
@domain_errors
def activity_delete(request, pk):
    """GET asks for confirmation; POST deletes (audited) and returns to the opportunity or account."""
    activity = access_activity(request.user, pk, write=True)
    home = _activity_home(activity)
    if request.method == "POST":
        services.activity_delete(actor=request.user, activity=activity)
        messages.success(request, _("Activity deleted."))
        return redirect(home)
    return render(request, "accounts/confirm_delete.html", {"object": activity, "cancel": home})


@login_required
def my_activities(request):
    page = selectors.my_activities(request.user, cursor=request.GET.get("cursor"))
    return render(request, "pipeline/my_activities.html", {"page": page})


# --- admin: gates -----------------------------------------------------------------------------------


@login_required
def gate_settings(request):
    if not is_admin(request.user):
        raise DjangoPermissionDenied()
    form = RequirementForm(request.POST or None)
    settings_row = PipelineSettings.current()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete":
            StageRequirement.objects.filter(pk=request.POST.get("pk")).delete()
            return redirect("pipeline:gates")
        if action == "meddpicc":
            settings_row.meddpicc_enabled = request.POST.get("meddpicc_enabled") == "on"
            settings_row.save()
            return redirect("pipeline:gates")
        if form.is_valid():
            StageRequirement.objects.get_or_create(
                stage=form.cleaned_data["stage"],
                requirement=form.cleaned_data["requirement"],
                when=form.cleaned_data["when"],
            )
            return redirect("pipeline:gates")
    rows = list(StageRequirement.objects.select_related("stage").order_by("stage__position", "when", "id"))
    for row in rows:
        requirement = get_requirement(row.requirement)
        row.label = requirement.label if requirement else row.requirement
    return render(
        request,
        "pipeline/gates.html",
        {"form": form, "rows": rows, "settings_row": settings_row},
    )
