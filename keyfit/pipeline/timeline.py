"""An opportunity's timeline — stage changes, activities (with their participants and the questions asked)
and audit events, newest first — read one page at a time by keyset and written as HTML in one pass.

One query per page whatever the history's length: a UNION ALL of three ordered, limited index scans
(stage changes by (opportunity, at, id), activities by (opportunity, occurred_at, id), audit events by
(content type, object id, at)); the participants and the questions asked of the page's activities come
along as JSON arrays.
Stage, question and vocabulary names come from the in-process lookups (keyfit.pipeline.reference).

The order is the time, then stage change before activity before audit event, then the newest row first;
the cursor is the last entry's (time, source, id).
"""

import datetime
import html
import json
from dataclasses import dataclass, field

from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from keyfit.core.db import prepared_cursor
from keyfit.core.pagination import decode_cursor, encode_cursor

FIRST_PAGE = 20  # entries in the page itself; more load on demand
MORE_PAGE = 50
STAGE, ACTIVITY, AUDIT = 0, 1, 2


@dataclass
class Entry:
    at: datetime.datetime
    source: int
    id: int
    row: tuple
    contacts: list[str] = field(default_factory=list)
    asked: list[tuple] = field(default_factory=list)  # (answer id, answer, used_as, question id)


@dataclass
class TimelinePage:
    entries: list[Entry]
    next_cursor: str | None


def _datetime(value) -> datetime.datetime:
    if isinstance(value, str):  # SQLite through a raw query
        value = parse_datetime(value)
    if value.tzinfo is None:  # PostgreSQL gives aware values; SQLite naive ones, in UTC
        value = value.replace(tzinfo=datetime.UTC)
    return value


def _date(value):
    return parse_date(value) if isinstance(value, str) else value


def _keyset(source: int, time_column: str, id_column: str, after) -> tuple[str, list]:
    """The condition 'strictly after the cursor' for one source (its source number is a constant)."""
    if after is None:
        return "", []
    at, after_source, after_id = after
    at = connection.ops.adapt_datetimefield_value(at)
    if source > after_source:
        return f" AND {time_column} <= %s", [at]
    if source < after_source:
        return f" AND {time_column} < %s", [at]
    return f" AND ({time_column} < %s OR ({time_column} = %s AND {id_column} < %s))", [at, at, after_id]


def json_rows_sql(columns: list[str], source: str, order: str) -> str:
    """A scalar subquery giving the rows of `SELECT columns FROM source ORDER BY order` as a JSON array
    of arrays (text; NULL or '[]' when there is none) — PostgreSQL and SQLite spell it differently."""
    if connection.vendor == "postgresql":
        cols = ", ".join(columns)
        return f"(SELECT json_agg(json_build_array({cols}) ORDER BY {order})::text FROM {source})"  # noqa: S608
    aliases = [f"c{i}" for i in range(len(columns))]
    inner = ", ".join(f"{column} AS {alias}" for column, alias in zip(columns, aliases, strict=True))
    outer = ", ".join(aliases)
    return f"(SELECT json_group_array(json_array({outer})) FROM (SELECT {inner} FROM {source} ORDER BY {order}))"  # noqa: S608


def _json(value) -> list:
    return json.loads(value) if value else []


def _tables():
    from keyfit.core.models import AuditEvent
    from keyfit.pipeline.models import Activity, ActivityQuestion, StageChange
    from keyfit.users.models import User

    qn = connection.ops.quote_name
    return {
        "stagechange": qn(StageChange._meta.db_table),
        "activity": qn(Activity._meta.db_table),
        "audit": qn(AuditEvent._meta.db_table),
        "user": qn(User._meta.db_table),
        "contacts": qn(Activity.contacts.through._meta.db_table),
        "contact": qn(Activity.contacts.field.related_model._meta.db_table),
        "asked": qn(ActivityQuestion._meta.db_table),
    }


_SQL: dict[tuple, str] = {}


def timeline_page(opportunity, *, cursor: str | None = None, limit: int = FIRST_PAGE) -> TimelinePage:
    """One page of the opportunity's timeline (`cursor` from the previous page's next_cursor)."""
    from django.contrib.contenttypes.models import ContentType

    after = None
    if cursor:
        at, source, last_id = decode_cursor(cursor, 3)
        if not isinstance(at, datetime.datetime):
            at = _datetime(str(at))
        after = (at, int(source), int(last_id))
    n = limit + 1
    content_type = ContentType.objects.get_for_model(opportunity, for_concrete_model=True)  # cached by Django
    stage_cond, stage_params = _keyset(STAGE, 'sc."at"', 'sc."id"', after)
    activity_cond, activity_params = _keyset(ACTIVITY, 'a."occurred_at"', 'a."id"', after)
    audit_cond, audit_params = _keyset(AUDIT, 'e."at"', 'e."id"', after)
    # The statement's text depends only on the database, the cursor's position among the sources and the
    # page size: written once per process for each.
    key = (connection.vendor, stage_cond, activity_cond, audit_cond, n)
    sql = _SQL.get(key)
    if sql is None:
        t = _tables()
        # The participants and the questions asked of the page's activities come along as JSON arrays.
        contacts = json_rows_sql(
            ['c."name"'],
            f'{t["contacts"]} ac INNER JOIN {t["contact"]} c ON c."id" = ac."contact_id" WHERE ac."activity_id" = p."id"',
            'ac."id"',
        )
        asked = json_rows_sql(
            ['q."id"', 'q."answer"', 'q."used_as"', 'q."question_id"'],
            f'{t["asked"]} q WHERE q."activity_id" = p."id"',
            'q."id"',
        )
        # Interpolated: table names from the models' metadata and integer constants; values are parameters.
        sql = f"""
SELECT * FROM (
  SELECT sc."at" AS "at", {STAGE} AS "src", sc."id" AS "id",
         sc."from_stage_id" AS "n1", sc."to_stage_id" AS "n2", sc."seconds_in_previous" AS "n3",
         sc."override" AS "flag", u."full_name" AS "uname", u."email" AS "uemail", sc."reason" AS "t1",
         CAST(NULL AS varchar(16)) AS "t2", CAST(NULL AS varchar(64)) AS "t3", CAST(NULL AS text) AS "t4",
         CAST(NULL AS varchar(300)) AS "t5", CAST(NULL AS date) AS "d1",
         CAST(NULL AS text) AS "j1", CAST(NULL AS text) AS "j2"
  FROM {t["stagechange"]} sc LEFT JOIN {t["user"]} u ON u."id" = sc."actor_id"
  WHERE sc."opportunity_id" = %s{stage_cond}
  ORDER BY sc."at" DESC, sc."id" DESC LIMIT {n}
) s
UNION ALL
SELECT p.*, {contacts} AS "j1", {asked} AS "j2" FROM (
  SELECT a."occurred_at" AS "at", {ACTIVITY} AS "src", a."id" AS "id",
         a."duration_minutes", CAST(NULL AS integer), CAST(NULL AS bigint),
         a."done", u."full_name", u."email", a."subject",
         a."kind", a."channel", a."outcome",
         a."next_step", a."next_step_date"
  FROM {t["activity"]} a INNER JOIN {t["user"]} u ON u."id" = a."owner_id"
  WHERE a."opportunity_id" = %s{activity_cond}
  ORDER BY a."occurred_at" DESC, a."id" DESC LIMIT {n}
) p
UNION ALL
SELECT * FROM (
  SELECT e."at", {AUDIT}, e."id",
         CAST(NULL AS integer), CAST(NULL AS integer), CAST(NULL AS bigint),
         CAST(NULL AS boolean), CAST(NULL AS varchar(200)), CAST(NULL AS varchar(254)), e."actor_label",
         e."action", e."verb", CAST(NULL AS text),
         CAST(NULL AS varchar(300)), CAST(NULL AS date),
         CAST(NULL AS text), CAST(NULL AS text)
  FROM {t["audit"]} e
  WHERE e."content_type_id" = %s AND e."object_id" = %s{audit_cond}
  ORDER BY e."at" DESC, e."id" DESC LIMIT {n}
) e
ORDER BY 1 DESC, 2 ASC, 3 DESC
LIMIT {n}"""  # noqa: S608
        _SQL[key] = sql
    params = [
        opportunity.pk,
        *stage_params,
        opportunity.pk,
        *activity_params,
        content_type.pk,
        str(opportunity.pk),
        *audit_params,
    ]
    with prepared_cursor() as cursor_:  # one statement per page kind: planned once per connection
        cursor_.execute(sql, params)
        rows = cursor_.fetchall()
    entries = [Entry(at=_datetime(r[0]), source=int(r[1]), id=int(r[2]), row=r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = entries[-1]
        next_cursor = encode_cursor([last.at, last.source, last.id])
    for entry in entries:
        if entry.source == ACTIVITY:
            entry.contacts = [name for (name,) in _json(entry.row[15])]
            entry.asked = [tuple(row) for row in _json(entry.row[16])]
    return TimelinePage(entries=entries, next_cursor=next_cursor)


# --- HTML ------------------------------------------------------------------------------------------------


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


@dataclass(frozen=True)
class _Words:
    """The renderer's fixed labels in one language (built once per language and process)."""

    kinds: dict[str, str]
    channels: dict[str, str]
    actions: dict[str, str]
    mne: dict[str, str]
    stage: str
    audit: str
    overridden: str
    with_: str
    next_step: str
    minutes: str
    days: str
    used_as: dict[str, str]
    use_buttons: str
    more: str
    nothing: str
    answer_use: str
    edit: str
    edit_activity: str
    activity_url: str


_words: dict[str, _Words] = {}


def _words_for_language() -> _Words:
    from django.utils.translation import get_language

    from keyfit.core.models import AuditEvent
    from keyfit.pipeline.choices import MNE, ActivityKind, Channel

    language = get_language() or ""
    words = _words.get(language)
    if words is None:
        esc = html.escape
        mne = _labels(MNE.choices)
        use_as = _("use as %(label)s")
        words = _Words(
            kinds=_labels(ActivityKind.choices),
            channels=_labels(Channel.choices),
            actions=_labels(AuditEvent.Action.choices),
            mne=mne,
            stage=esc(_("Stage")),
            audit=esc(_("Audit")),
            overridden=esc(_("gate overridden")),
            with_=esc(_("With")),
            next_step=esc(_("Next step")),
            minutes=_("%(m)s min"),
            days=_("%(d)s days in previous stage"),
            used_as={value: esc(_("used as %(c)s") % {"c": label}) for value, label in mne.items()},
            use_buttons="".join(
                f'<button type="submit" name="use_as" value="{esc(value)}" class="link">{esc(use_as % {"label": label})}</button> '
                for value, label in mne.items()
            ),
            more=esc(_("More")),
            nothing=esc(_("Nothing recorded yet.")),
            answer_use=reverse("pipeline:answer_use", args=[0])[: -len("0/use/")],
            edit=esc(_("Edit")),
            edit_activity=esc(_("Edit activity")),
            activity_url=reverse("pipeline:activity_edit", args=[0])[: -len("0/edit/")],
        )
        _words[language] = words
    return words


def _linebreaksbr(text: str) -> str:
    """The `linebreaksbr` filter: escaped, one <br> per line break."""
    return html.escape(text.replace("\r\n", "\n").replace("\r", "\n")).replace("\n", "<br>")


class Renderer:
    """Writes timeline entries as the page's <li> items (every value escaped)."""

    def __init__(self, *, lookups, editable: bool, csrf_token: str | None, opportunity_id: int):
        self.lookups = lookups
        self.editable = editable
        self.csrf_input = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{html.escape(csrf_token)}">' if csrf_token else ""
        )
        self.opportunity_id = opportunity_id
        self.words = _words_for_language()

    def entries(self, entries: list[Entry]) -> str:
        parts = []
        zone = timezone.get_current_timezone()  # the reader's (UserTimezoneMiddleware)
        for entry in entries:
            at = entry.at.astimezone(zone)
            head = f'\n  <li class="tl-{("stage", "activity", "audit")[entry.source]}"><time datetime="{at.isoformat()}">{at:%Y-%m-%d %H:%M}</time>\n'
            if entry.source == STAGE:
                body = self._stage(entry.row)
            elif entry.source == ACTIVITY:
                body = self._activity(entry)
            else:
                body = self._audit(entry.row)
            parts.append(f"{head}{body}\n  </li>")
        return "".join(parts)

    def _stage(self, row) -> str:
        from keyfit.pipeline.templatetags.pipeline_tags import duration_days

        esc = html.escape
        _at, _src, _id, from_id, to_id, seconds, override, uname, uemail, reason = row[:10]
        stages = self.lookups.stages
        out = [f'    <span class="badge">{self.words.stage}</span>\n    ']
        if from_id is not None and from_id in stages:
            out.append(f"{esc(stages[from_id].name)} → ")
        to_stage = stages.get(to_id)
        out.append(f"<strong>{esc(to_stage.name if to_stage else str(to_id))}</strong>")
        if uname or uemail:
            out.append(f"\n    · {esc(uname or uemail)}")
        if seconds is not None:
            days = self.words.days % {"d": duration_days(seconds)}
            out.append(f'\n    <span class="muted">· {esc(days)}</span>')
        if override:
            out.append(f'\n    <span class="badge warn">{self.words.overridden}</span>')
        if reason:
            out.append(f'\n    <div class="muted">{esc(reason)}</div>')
        return "".join(out)

    def _activity(self, entry: Entry) -> str:
        esc = html.escape
        row = entry.row
        minutes, done, uname, uemail, subject, kind, channel, outcome, next_step, next_date = (
            row[3],
            row[6],
            row[7],
            row[8],
            row[9],
            row[10],
            row[11],
            row[12],
            row[13],
            _date(row[14]),
        )
        out = [
            f'    <span class="badge ok">{esc(self.words.kinds.get(kind, kind))}</span> <strong>{esc(subject)}</strong>',
        ]
        if self.editable:  # may edit the opportunity → may edit its activities (editable_activities)
            out.append(
                f' <a class="muted" href="{self.words.activity_url}{int(row[2])}/edit/"'
                f' aria-label="{self.words.edit_activity}: {esc(subject)}">{self.words.edit}</a>'
            )
        out += ["\n", f"    · {esc(uname or uemail)}"]
        if minutes:
            out.append(f" · {esc(self.words.minutes % {'m': minutes})}")
        out.append(f" · {esc(self.words.channels.get(channel, channel))}")
        if outcome:
            out.append(f"\n    <div>{_linebreaksbr(outcome)}</div>")
        if entry.contacts:
            out.append(f'\n    <div class="muted">{self.words.with_}: {esc(", ".join(entry.contacts))}</div>')
        if next_step:
            date = f" ({next_date:%Y-%m-%d})" if next_date else ""
            tick = " ✓" if done else ""
            out.append(f"\n    <div>{self.words.next_step}: {esc(next_step)}{date}{tick}</div>")
        if entry.asked:
            out.append(self._asked(entry.asked))
        return "".join(out)

    def _asked(self, asked) -> str:
        esc = html.escape
        summary = ngettext("%(n)s question asked", "%(n)s questions asked", len(asked)) % {"n": len(asked)}
        out = [f'\n    <details><summary>{esc(summary)}</summary><ul class="asked">']
        for answer_id, answer, used_as, question_id in asked:
            question = self.lookups.questions.get(question_id)
            text = question.text if question else ""
            category = self.words.mne.get(question.category, question.category) if question else ""
            out.append(
                f'\n      <li><em>{esc(text)}</em> <span class="badge">{esc(category)}</span><br>{esc(answer or "—")}'
            )
            if used_as:
                label = self.words.used_as.get(used_as) or esc(_("used as %(c)s") % {"c": used_as})
                out.append(f'\n        <span class="badge ok">{label}</span>')
            elif self.editable and answer:
                out.append(
                    f'\n        <form method="post" action="{self.words.answer_use}{int(answer_id)}/use/" class="inline">'
                    f"{self.csrf_input}\n          {self.words.use_buttons}</form>"
                )
            out.append("\n      </li>")
        out.append("</ul></details>")
        return "".join(out)

    def _audit(self, row) -> str:
        esc = html.escape
        label, action, verb = row[9], row[10], row[11]
        out = f'    <span class="badge">{self.words.audit}</span> {esc(label)} {esc(self.words.actions.get(action, action))}'
        if verb:
            out += f" · {esc(verb)}"
        return out

    def more(self, next_cursor: str | None) -> str:
        """The last item of a page that has more: htmx replaces it with the next page."""
        if not next_cursor:
            return ""
        url = html.escape(f"{reverse('pipeline:timeline', args=[self.opportunity_id])}?cursor={next_cursor}")
        return (
            f'\n  <li class="tl-more"><a href="{url}" hx-get="{url}" hx-target="closest li" hx-swap="outerHTML">'
            f"{self.words.more}</a></li>"
        )

    def page(self, page: TimelinePage) -> str:
        return self.entries(page.entries) + self.more(page.next_cursor)

    def list(self, page: TimelinePage) -> str:
        """The whole <ol> of the first page."""
        if not page.entries:
            return f'<ol class="timeline">\n<li class="muted">{self.words.nothing}</li>\n</ol>'
        return f'<ol class="timeline">{self.page(page)}\n</ol>'


def render_context(request, opportunity, *, lookups, editable: bool) -> Renderer:
    from django.middleware.csrf import get_token

    return Renderer(
        lookups=lookups,
        editable=editable,
        csrf_token=get_token(request) if editable else None,
        opportunity_id=opportunity.pk,
    )
