"""Pages: parse input, call one selector or service, render. Out of scope → 404; read-only → 403."""

import html
from decimal import Decimal
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keyfit.accounts import selectors, services
from keyfit.accounts.choices import BuyingRole, Industry, Lifecycle, Seniority, Tier
from keyfit.accounts.forms import (
    AccountForm,
    ContactForm,
    CustomFieldForm,
    account_initial,
    contact_initial,
)
from keyfit.accounts.models import Account, Contact
from keyfit.accounts.timeline import account_panels
from keyfit.core.audit import audit_for
from keyfit.core.customfields import custom_field_definitions, custom_field_display
from keyfit.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from keyfit.core.models import CustomFieldDefinition, localized
from keyfit.core.money import format_money
from keyfit.core.permissions import can_write, is_admin
from keyfit.users.models import Team, User


def domain_errors(view):
    """NotFound → 404 page, PermissionDenied → 403 page (the same rule as the API)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404() from None
        except PermissionDenied:
            raise DjangoPermissionDenied() from None

    return wrapper


def _choice_filters(target: str, definitions=None) -> list[dict]:
    """Choice, multi-choice and yes/no custom fields offered as list filters."""
    rows = []
    for d in custom_field_definitions(target) if definitions is None else definitions:
        if d.field_type in (CustomFieldDefinition.Type.CHOICE, CustomFieldDefinition.Type.MULTI_CHOICE):

            class _C:
                pass

            options = []
            for c in d.choices or []:
                item = _C()
                item.label_en = c.get("label_en") or str(c.get("value"))
                item.label_zh_hans = c.get("label_zh_hans") or ""
                options.append((str(c.get("value")), localized(item, "label")))
            rows.append({"name": f"cf_{d.key}", "label": d.label, "options": options})
        elif d.field_type == CustomFieldDefinition.Type.BOOLEAN:
            rows.append({"name": f"cf_{d.key}", "label": d.label, "options": [("1", _("Yes")), ("0", _("No"))]})
    return rows


def _custom_values(target: str, values: dict, currency: str | None = None) -> list[tuple[str, str]]:
    """(label, shown value) for a detail page: choices by label, yes/no and money localised."""
    T = CustomFieldDefinition.Type
    kinds = {d.label: d.field_type for d in custom_field_definitions(target)}
    rows = []
    for label, value in custom_field_display(target, values):
        if kinds.get(label) == T.BOOLEAN:
            value = _("Yes") if value else _("No")
        elif kinds.get(label) == T.MONEY:
            value = format_money(Decimal(str(value)), currency)
        rows.append((label, value))
    return rows


MAX_OWNER_OPTIONS = 1000
FILTER_CHOICES_KEY = "accounts:list-filter-choices:v1"
FILTER_CHOICES_TTL = 300  # seconds; changes invalidate at once, this only bounds a missed signal


def _options_html(rows) -> str:
    """<option> tags for a filter select, none selected, built in one pass (cheaper than a template loop)."""
    return "".join(f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in rows)


def _options(rows, selected) -> str:
    """<option> tags for a filter select with `selected` marked; `rows` or ready-made unselected tags."""
    html = rows if isinstance(rows, str) else _options_html(rows)
    selected = str(selected or "")
    if selected:
        # The marker is the whole opening tag with its escaped value, so it matches exactly one option (values
        # are distinct); an unknown value simply marks nothing.
        html = html.replace(f'<option value="{escape(selected)}">', f'<option value="{escape(selected)}" selected>', 1)
    return mark_safe(html)  # every value and label is escaped in _options_html


_CHOICE_OPTIONS: dict[tuple[str, str | None], str] = {}


def _choice_options(name: str, choices, selected) -> str:
    """<option> tags of a fixed choice list of the code (tiers, lifecycles, ...), built once per language."""
    key = (name, get_language())
    html = _CHOICE_OPTIONS.get(key)
    if html is None:
        html = _CHOICE_OPTIONS[key] = _options_html(choices)
    return _options(html, selected)


def _custom_filters_html(rows: list[dict], filters: dict) -> str:
    """The custom-field filter selects (rows of _choice_filters) with the chosen values marked."""
    every = escape(_("all"))
    parts = []
    for cf in rows:
        chosen = filters.get(cf["name"])
        options = "".join(
            f'<option value="{escape(value)}"{" selected" if chosen == value else ""}>{escape(label)}</option>'
            for value, label in cf["options"]
        )
        parts.append(
            f'<label>{escape(cf["label"])}<select name="{escape(cf["name"])}">'
            f'<option value="">{every}</option>{options}</select></label>'
        )
    return mark_safe("".join(parts))  # every value and label is escaped above


def _build_filter_choices() -> dict:
    return {
        "owners": _options_html(
            User.objects.filter(is_active=True).order_by("full_name").values_list("id", "full_name")[:MAX_OWNER_OPTIONS]
        ),
        "teams": _options_html(Team.objects.order_by("name").values_list("id", "name")),
        "account_fields": custom_field_definitions("account"),
    }


def _list_cache(user, list_key: str) -> tuple[dict, list[dict]]:
    """The filter choices of the account list and `user`'s saved views of `list_key`, from one cache read.

    Both change rarely and are kept in the shared cache until they change (keyfit.accounts.signals): the
    owner and team pickers (ready-made option tags) with the account custom-field definitions — the same
    for everyone — and each user's saved views. With the database cache this is one query instead of two
    to five; with Redis or the in-memory cache none.
    """
    views_key = selectors.saved_views_key(user.pk, list_key)
    found = cache.get_many([FILTER_CHOICES_KEY, views_key])
    choices = found.get(FILTER_CHOICES_KEY)
    if choices is None:
        choices = _build_filter_choices()
        cache.set(FILTER_CHOICES_KEY, choices, FILTER_CHOICES_TTL)
    views = found.get(views_key)
    if views is None:
        views = selectors.saved_views(user, list_key)
        cache.set(views_key, views, selectors.SAVED_VIEWS_TTL)
    return choices, views


_ROW = (
    '<tr>\n  <td><a href="{base}{id}/">{name}</a></td>\n'
    "  <td>{tier}</td><td>{lifecycle}</td><td>{industry}</td>\n"
    "  <td>{location}</td>\n"
    "  <td>{owner}</td><td>{team}</td>\n</tr>"
)


def _account_rows_html(items, base_url: str) -> str:
    """The list rows (dicts of LIST_VALUES with labels) as HTML in one pass: 50 rows × 7 cells through the
    template engine cost more than the rest of the page."""
    esc = html.escape  # Django's escape() is this plus a lazy-string wrapper, which costs more per cell
    base = esc(base_url)
    parts = []
    for a in items:
        city, country = a["city"] or "", a["country"] or ""
        parts.append(
            _ROW.format(
                base=base,
                id=int(a["id"]),
                name=esc(a["name"]),
                tier=esc(a["tier_label"]),
                lifecycle=esc(a["lifecycle_label"]),
                industry=esc(a["industry_label"] or "—"),
                location=esc(city) + (", " if city and country else "") + esc(country),
                owner=esc(a["owner__full_name"] or a["owner__email"] or ""),
                team=esc(a["team__name"] or "—"),
            )
        )
    return mark_safe("".join(parts))  # every value is escaped above


_LABELS: dict[tuple[str, str, str | None], dict] = {}


def _labels(model, name: str) -> dict:
    """{value: label} of a choice field in the active language (built once per language)."""
    key = (model._meta.label, name, get_language())
    labels = _LABELS.get(key)
    if labels is None:
        labels = _LABELS[key] = {value: str(label) for value, label in model._meta.get_field(name).flatchoices}
    return labels


def _label_rows(items, model, fields: tuple[str, ...]) -> None:
    """Add `<field>_label` to each row from one label table per field (get_FOO_display is slow per row)."""
    if not items:
        return
    for name in fields:
        labels = _labels(model, name)
        for item in items:
            if isinstance(item, dict):
                item[f"{name}_label"] = labels.get(item[name], "")
            else:
                setattr(item, f"{name}_label", labels.get(getattr(item, name), ""))


def _query_without_cursor(request) -> str:
    params = [(k, v) for k, v in request.GET.items() if k != "cursor" and v != ""]
    return urlencode(params)


# A page part that depends only on the language and a few switches is rendered once per language and process
# with markers in its variable places, and then filled per request: the account list's filter form, toolbar
# and table frame are about 60 template nodes, which cost more than the rows.
_SLOT_MARK = "\x00"
_PARTS: dict[tuple, list[str]] = {}


def _slot_parts(template_name: str, switches: dict[str, bool], names) -> list[str]:
    key = (template_name, get_language(), *sorted(switches.items()))
    parts = None if settings.DEBUG else _PARTS.get(key)  # while developing, template edits show at once
    if parts is None:
        marks = {name: mark_safe(f"{_SLOT_MARK}{name}{_SLOT_MARK}") for name in names}
        context = {**switches, "slot": marks, **marks}  # included templates read the marks by plain name
        parts = _PARTS[key] = get_template(template_name).render(context).split(_SLOT_MARK)
    return parts


def _fill_slots(template_name: str, switches: dict[str, bool], slots: dict[str, str]) -> str:
    """`template_name` rendered with `switches` and with `slots` (escaped text or safe HTML) in its places."""
    parts = _slot_parts(template_name, switches, slots)
    return mark_safe("".join(slots[part] if i % 2 else part for i, part in enumerate(parts)))


def _saved_view_badges(request, views: list[dict], list_key: str) -> str:
    if not views:
        return ""
    context = {"saved_views": views, "list_key": list_key}
    return render_to_string("accounts/_saved_view_badges.html", context, request=request)


# --- accounts ---------------------------------------------------------------------------------------


@login_required
@domain_errors
def account_list(request):
    filters = request.GET.dict()
    try:
        page = selectors.account_list(request.user, filters, values=selectors.LIST_VALUES)
    except ValidationFailed:
        page = selectors.account_list(request.user, {**filters, "cursor": ""}, values=selectors.LIST_VALUES)
    _label_rows(page.items, Account, ("tier", "lifecycle", "industry"))
    query = _query_without_cursor(request)
    base_url = reverse("accounts:account_list")
    context = {
        "page": page,
        "rows": _account_rows_html(page.items, base_url),
        "query": query,
        "filters": filters,
        "more_url": f"?{query}&cursor={page.next_cursor}" if page.next_cursor else "",
        "base_url": base_url,
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "accounts/_account_rows.html", context)
    choices, views = _list_cache(request.user, "accounts")
    slots = {
        "q": escape(filters.get("q") or ""),
        "contains_selected": " selected" if filters.get("match") == "contains" else "",
        "tier_options": _choice_options("tier", Tier.choices, filters.get("tier")),
        "lifecycle_options": _choice_options("lifecycle", Lifecycle.choices, filters.get("lifecycle")),
        "industry_options": _choice_options("industry", Industry.choices, filters.get("industry")),
        "country": escape(filters.get("country") or ""),
        "owner_options": _options(choices["owners"], filters.get("owner")),
        "team_options": _options(choices["teams"], filters.get("team")),
        "custom_filters": _custom_filters_html(_choice_filters("account", choices["account_fields"]), filters),
        "query": escape(query),
        "saved_view_badges": _saved_view_badges(request, views, "accounts"),
        "csrf_token": escape(get_token(request)),
        "rows": get_template("accounts/_account_rows.html").render(context),
    }
    switches = {"can_create": can_write(request.user), "show_custom_fields": is_admin(request.user)}
    context["body"] = _fill_slots("accounts/_account_list_body.html", switches, slots)
    return render(request, "accounts/account_list.html", context)


@login_required
@domain_errors
def account_detail(request, pk: int):
    account = selectors.access_account(request.user, pk)
    contacts = selectors.account_contacts(account)
    return render(
        request,
        "accounts/account_detail.html",
        {
            "account": account,
            "contacts": contacts,
            "org": selectors.org_chart(contacts),
            "custom_values": _custom_values("account", account.custom_fields, account.currency),
            "events": audit_for(account),
            "can_edit": selectors.account_can_edit(request.user, account),
            "panels": account_panels(request, account),
        },
    )


@login_required
@domain_errors
def account_org_chart(request, pk: int):
    account = selectors.access_account(request.user, pk)
    contacts = selectors.account_contacts(account)
    org = selectors.org_chart(contacts)
    return render(request, "accounts/org_chart.html", {"account": account, "org": org, "org_data": _tree_data(org)})


def _tree_data(nodes) -> list[dict]:
    """The org chart as plain data for the ECharts tree (names, titles, roles, links)."""
    base = reverse("accounts:contact_list")
    return [
        {
            "name": node["contact"].name,
            "title": node["contact"].title,
            "role": node["contact"].get_buying_role_display() if node["contact"].buying_role else "",
            "url": f"{base}{node['contact'].pk}/",
            "children": _tree_data(node["reports"]),
        }
        for node in nodes
    ]


@login_required
@domain_errors
def account_create(request):
    if not can_write(request.user):
        raise PermissionDenied()
    form = AccountForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create(actor=request.user, **form.service_fields())
        except ValidationFailed as exc:
            form.apply_errors(exc)
        else:
            messages.success(request, _("Account created."))
            return redirect("accounts:account_detail", pk=account.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/account_form.html", {"form": form, "title": _("New account")}, status=status)


def _save_edit(form, save) -> tuple[bool, dict | None]:
    """Run `save()` for a valid edit form: field errors land on the form; a stale version adds the error,
    moves the form to the current version and returns the current values. Returns (saved, current)."""
    try:
        save()
    except ValidationFailed as exc:
        form.apply_errors(exc)
        return False, None
    except Conflict as exc:
        current = exc.extra.get("current")
        form.add_error(None, exc.message)
        form.data = form.data.copy()
        form.data["version"] = str(current.get("version"))
        return False, current
    return True, None


@login_required
@domain_errors
def account_edit(request, pk: int):
    account = selectors.access_account(request.user, pk)
    if not selectors.account_can_edit(request.user, account):
        raise PermissionDenied()
    form = AccountForm(
        request.POST or None,
        initial=account_initial(account),
        custom_initial=account.custom_fields,
        actor=request.user,
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        saved, conflict = _save_edit(
            form,
            lambda: services.account_update(
                actor=request.user, account=account, version=form.cleaned_data.get("version"), **form.service_fields()
            ),
        )
        if saved:
            messages.success(request, _("Account saved."))
            return redirect("accounts:account_detail", pk=account.pk)
    status = 200 if request.method == "GET" else (409 if conflict else 422)
    return render(
        request,
        "accounts/account_form.html",
        {"form": form, "title": account.name, "object": account, "conflict": conflict},
        status=status,
    )


@login_required
@domain_errors
def account_delete(request, pk: int):
    account = selectors.access_account(request.user, pk)
    if not selectors.account_can_edit(request.user, account):
        raise PermissionDenied()
    if request.method == "POST":
        try:
            services.account_delete(actor=request.user, account=account)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("accounts:account_detail", pk=account.pk)
        messages.success(request, _("Account deleted."))
        return redirect("accounts:account_list")
    return render(request, "accounts/confirm_delete.html", {"object": account, "cancel": account_detail_url(account)})


def account_detail_url(account) -> str:
    return reverse("accounts:account_detail", args=[account.pk])


# --- contacts ---------------------------------------------------------------------------------------


@login_required
@domain_errors
def contact_list(request):
    filters = request.GET.dict()
    try:
        page = selectors.contact_list(request.user, filters)
    except ValidationFailed:
        page = selectors.contact_list(request.user, {**filters, "cursor": ""})
    _label_rows(page.items, Contact, ("buying_role",))
    query = _query_without_cursor(request)
    context = {
        "page": page,
        "query": query,
        "filters": filters,
        "more_url": f"?{query}&cursor={page.next_cursor}" if page.next_cursor else "",
        "base_url": reverse("accounts:account_list"),
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "accounts/_contact_rows.html", context)
    context.update(
        buying_role_options=_choice_options("buying_role", BuyingRole.choices, filters.get("buying_role")),
        seniority_options=_choice_options("seniority", Seniority.choices, filters.get("seniority")),
        custom_filters=_custom_filters_html(_choice_filters("contact"), filters),
        saved_views=selectors.cached_saved_views(request.user, "contacts"),
    )
    return render(request, "accounts/contact_list.html", context)


@login_required
@domain_errors
def contact_detail(request, pk: int):
    contact = selectors.access_contact(request.user, pk)
    return render(
        request,
        "accounts/contact_detail.html",
        {
            "contact": contact,
            "reports": list(contact.reports.order_by("name")[:200]),
            "custom_values": _custom_values("contact", contact.custom_fields),
            "events": audit_for(contact),
            "can_edit": selectors.contact_can_edit(request.user, contact),
        },
    )


@login_required
@domain_errors
def contact_create(request, account_pk: int):
    account = selectors.access_account(request.user, account_pk)
    if not selectors.account_can_edit(request.user, account):
        raise PermissionDenied()
    form = ContactForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(actor=request.user, account=account, **form.service_fields())
        except ValidationFailed as exc:
            form.apply_errors(exc)
        else:
            messages.success(request, _("Contact created."))
            return redirect("accounts:contact_detail", pk=contact.pk)
    status = 422 if request.method == "POST" else 200
    title = _("New contact at %(account)s") % {"account": account.name}
    return render(
        request, "accounts/contact_form.html", {"form": form, "title": title, "account": account}, status=status
    )


@login_required
@domain_errors
def contact_edit(request, pk: int):
    contact = selectors.access_contact(request.user, pk)
    if not selectors.contact_can_edit(request.user, contact):
        raise PermissionDenied()
    form = ContactForm(
        request.POST or None,
        initial=contact_initial(contact),
        custom_initial=contact.custom_fields,
        account=contact.account,
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        saved, conflict = _save_edit(
            form,
            lambda: services.contact_update(
                actor=request.user, contact=contact, version=form.cleaned_data.get("version"), **form.service_fields()
            ),
        )
        if saved:
            messages.success(request, _("Contact saved."))
            return redirect("accounts:contact_detail", pk=contact.pk)
    status = 200 if request.method == "GET" else (409 if conflict else 422)
    return render(
        request,
        "accounts/contact_form.html",
        {"form": form, "title": contact.name, "account": contact.account, "object": contact, "conflict": conflict},
        status=status,
    )


@login_required
@domain_errors
def contact_delete(request, pk: int):
    contact = selectors.access_contact(request.user, pk)
    if not selectors.contact_can_edit(request.user, contact):
        raise PermissionDenied()
    if request.method == "POST":
        account_pk = contact.account_id
        try:
            services.contact_delete(actor=request.user, contact=contact)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("accounts:contact_detail", pk=contact.pk)
        messages.success(request, _("Contact deleted."))
        return redirect("accounts:account_detail", pk=account_pk)
    return render(
        request,
        "accounts/confirm_delete.html",
        {"object": contact, "cancel": reverse("accounts:contact_detail", args=[contact.pk])},
    )


# --- saved views ------------------------------------------------------------------------------------

_LIST_URLS = {"accounts": "accounts:account_list", "contacts": "accounts:contact_list"}


@login_required
@require_POST
def saved_view_save(request, list_key: str):
    if list_key not in _LIST_URLS:
        raise Http404()
    query = request.POST.get("query", "")
    try:
        services.saved_view_save(actor=request.user, list_key=list_key, name=request.POST.get("name", ""), query=query)
    except ValidationFailed as exc:
        messages.error(request, "; ".join(m for msgs in exc.fields.values() for m in msgs))
    else:
        messages.success(request, _("View saved."))
    return HttpResponseRedirect(f"{reverse(_LIST_URLS[list_key])}?{query}")


@login_required
@require_POST
def saved_view_delete(request, list_key: str, view_id: int):
    if list_key not in _LIST_URLS:
        raise Http404()
    services.saved_view_delete(actor=request.user, view_id=view_id)
    messages.success(request, _("View deleted."))
    return redirect(_LIST_URLS[list_key])


# --- custom fields (admin) --------------------------------------------------------------------------


def _require_admin(user) -> None:
    if not is_admin(user):
        raise Http404()


@login_required
def custom_field_list(request):
    _require_admin(request.user)
    definitions = CustomFieldDefinition.objects.order_by("target", "position", "id")
    return render(request, "accounts/custom_field_list.html", {"definitions": definitions})


@login_required
@domain_errors
def custom_field_edit(request, pk: int | None = None):
    _require_admin(request.user)
    definition = None
    if pk is not None:
        definition = CustomFieldDefinition.objects.filter(pk=pk).first()
        if definition is None:
            raise Http404()
    form = CustomFieldForm(request.POST or None, instance=definition)
    if request.method == "POST" and form.is_valid():
        try:
            services.custom_field_save(actor=request.user, definition=definition, **form.service_fields())
        except ValidationFailed as exc:
            form.apply_errors(exc)
        else:
            messages.success(request, _("Custom field saved."))
            return redirect("accounts:custom_field_list")
    title = definition.label if definition else _("New custom field")
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/custom_field_form.html", {"form": form, "title": title}, status=status)
