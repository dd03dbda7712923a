"""The opportunity page's two fact cards (the deal, its MNE profile) written in one pass: through the
template engine their forty labels and values cost more than the rest of the page. Same markup as the
template wrote; every value escaped."""

from html import escape

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from keyfit.pipeline.templatetags.pipeline_tags import card_money

DASH = "—"


def _lines(text: str) -> str:
    """`text|linebreaksbr|default:"—"`."""
    if not text:
        return DASH
    return escape(text.replace("\r\n", "\n").replace("\r", "\n")).replace("\n", "<br>")


def _or_dash(value) -> str:
    return escape(str(value)) if value else DASH


def _date(value) -> str:
    return value.isoformat() if value else ""


def deal_card(opp, custom) -> SafeString:
    # Labels are translated outside the f-strings below: makemessages does not look inside an f-string.
    title, account, amount, probability = _("Deal"), _("Account"), _("Amount"), _("Probability")
    forecast, expected_close, owner_label, competitors = (
        _("Forecast category"),
        _("Expected close"),
        _("Owner"),
        _("Competitors"),
    )
    stage_p = _("stage: %(p)s%%") % {"p": opp.computed_probability}
    manual = ", " + _("manual: %(p)s%%") % {"p": opp.manual_probability} if opp.manual_probability is not None else ""
    owner = escape(opp.owner.display_name) + (f" · {escape(opp.team.name)}" if opp.team else "")
    out = [
        f'<section class="card"><h2>{escape(title)}</h2>\n  <dl class="facts">',
        f"\n    <dt>{escape(account)}</dt><dd>{escape(opp.account.name)}</dd>",
        f"\n    <dt>{escape(amount)}</dt><dd>{escape(card_money(opp.amount, opp.currency))}</dd>",
        f"\n    <dt>{escape(probability)}</dt><dd>{int(opp.probability)}% "
        f'<span class="muted">({escape(stage_p)}{escape(manual)})</span></dd>',
        f"\n    <dt>{escape(forecast)}</dt><dd>{escape(str(opp.get_forecast_category_display()))}</dd>",
        f"\n    <dt>{escape(expected_close)}</dt><dd>{_date(opp.expected_close_date) or DASH}</dd>",
        f"\n    <dt>{escape(owner_label)}</dt><dd>{owner}</dd>",
        f"\n    <dt>{escape(competitors)}</dt><dd>{_or_dash(opp.competitors)}</dd>",
    ]
    if opp.won_on:
        won_on = _("Won on")
        out.append(f"\n    <dt>{escape(won_on)}</dt><dd>{_date(opp.won_on)}</dd>")
    if opp.lost_on:
        reason = escape(opp.lost_reason.name) if opp.lost_reason_id else ""
        note = f" — {escape(opp.lost_note)}" if opp.lost_note else ""
        lost_on = _("Lost on")
        out.append(f"\n    <dt>{escape(lost_on)}</dt><dd>{_date(opp.lost_on)} · {reason}{note}</dd>")
    if opp.previous_id:
        label = opp.get_previous_link_display() or _("Follows")
        url = reverse("pipeline:detail", args=[opp.previous_id])
        out.append(f'\n    <dt>{escape(str(label))}</dt><dd><a href="{url}">{escape(opp.previous.name)}</a></dd>')
    for label, value in custom:
        out.append(f"\n    <dt>{escape(str(label))}</dt><dd>{escape(str(value))}</dd>")
    out.append("\n  </dl>")
    if opp.risk_only_method or opp.risk_not_buying:
        out.append("<p>")
        confirmed_label = _("confirmed")
        for raised, confirmed, text in (
            (opp.risk_only_method, opp.risk_only_method_confirmed, _("only seeking a method")),
            (opp.risk_not_buying, opp.risk_not_buying_confirmed, _("not buying from us")),
        ):
            if raised:
                tail = f" · {escape(confirmed_label)}" if confirmed else ""
                out.append(f'\n    <span class="badge {"bad" if confirmed else "warn"}">{escape(text)}{tail}</span>')
        out.append("\n  </p>")
    out.append("\n  </section>")
    return mark_safe("".join(out))  # every value escaped above


def mne_card(opp, meddpicc: bool) -> SafeString:
    # Labels are translated outside the f-strings below: makemessages does not look inside an f-string.
    complete, incomplete, title = _("complete"), _("incomplete"), _("MNE profile")
    badge = (
        f'<span class="badge ok">{escape(complete)}</span>'
        if opp.mne_complete
        else f'<span class="badge warn">{escape(incomplete)}</span>'
    )
    out = [f'<section class="card" id="mne"><h2>{escape(title)} {badge}</h2>\n  <dl class="facts">']
    for field, label in (
        ("motivation", _("Motivation")),
        ("need", _("Need")),
        ("expectations", _("Expectations")),
        ("success_criteria", _("Success criteria")),
    ):
        out.append(f'\n    <dt>{escape(label)}</dt><dd data-field="{field}">{_lines(getattr(opp, field))}</dd>')
    criteria, feasibility = _("Decision criteria"), _("Feasibility confirmed by the customer")
    out.append(f"\n    <dt>{escape(criteria)}</dt><dd>{_lines(opp.decision_criteria)}</dd>")
    feasible = _("Yes") if opp.feasibility_confirmed else _("No")
    out.append(f"\n    <dt>{escape(feasibility)}</dt><dd>{escape(feasible)}</dd>")
    if meddpicc:
        for value, label in (
            (opp.metrics, _("Metrics")),
            (opp.decision_process, _("Decision process")),
            (opp.paper_process, _("Paper process")),
            (opp.identified_pain, _("Identified pain")),
            (opp.champion if opp.champion_id else None, _("Champion")),
        ):
            out.append(f"\n    <dt>{escape(label)}</dt><dd>{_or_dash(value)}</dd>")
    out.append("\n  </dl></section>")
    return mark_safe("".join(out))  # every value escaped above
