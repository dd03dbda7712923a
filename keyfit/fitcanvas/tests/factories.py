import datetime
import importlib

import factory
from django.utils import timezone

from keyfit.accounts.models import Account, Contact
from keyfit.fitcanvas import services
from keyfit.fitcanvas.choices import ELEMENT_CODES
from keyfit.fitcanvas.models import QuestionnaireTemplate, Statement, Wave
from keyfit.users.tests.factories import UserFactory


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Key account {n}")
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Executive {n}")
    email = factory.Sequence(lambda n: f"exec{n}@customer.example")
    language = "en"


class WaveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Wave

    account = factory.SubFactory(AccountFactory)
    template = factory.LazyFunction(lambda: QuestionnaireTemplate.objects.get(is_default=True))
    name = factory.Sequence(lambda n: f"Wave {n}")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=14))


# The worked wave of the acceptance criteria: element → (supplier raters' scores, customer raters' scores)
WORKED = {
    "PLAN_STRATEGY": ([4, 4, 4], [3, 3]),
    "PLAN_RELATIONSHIPS": ([4, 5, 4], [3, 4]),
    "PLAN_COMMUNICATION": ([3, 4, 4], [2, 3]),
    "EXEC_SOLUTIONS": ([4, 4, 4], [4, 4]),
    "EXEC_PROCESSES": ([3, 3, 4], [3, 3]),
    "EXEC_SYSTEMS": ([3, 3, 3], [3, 3]),
    "RES_TALENT": ([4, 4, 3], [4, 4]),
    "RES_STRUCTURE": ([3, 3, 2], [2, 3]),
    "RES_KNOWLEDGE": ([2, 2, 3], [3, 3]),
}


def statements_by_element(template_id: int) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {code: [] for code in ELEMENT_CODES}
    for sid, element in Statement.objects.filter(template_id=template_id, retired=False).values_list("id", "element"):
        out[element].append(sid)
    return out


def open_wave(*, kam, account=None, suppliers=(), contacts=(), name="Wave"):
    """A wave opened by `kam` with the given supplier users and customer contacts as raters."""
    account = account or AccountFactory(owner=kam, team=kam.team)
    wave = services.wave_create(
        account=account, actor=kam, name=name, due_date=timezone.localdate() + datetime.timedelta(days=14)
    )
    for user in suppliers:
        services.rater_add(wave=wave, actor=kam, user=user)
    for contact in contacts:
        services.rater_add(wave=wave, actor=kam, contact=contact)
    return services.wave_open(wave=wave, actor=kam)


def answer_all(rater, scores_by_element: dict[str, int], *, submit=True, horizon=None):
    ids = statements_by_element(rater.wave.template_id)
    answers = {sid: scores_by_element[e] for e, sids in ids.items() for sid in sids if e in scores_by_element}
    return services.answers_save(rater=rater, actor=None, answers=answers, submit=submit, horizon=horizon)


def make_worked_wave(kam, *, account=None, name="Worked wave"):
    suppliers = [kam, UserFactory(role=kam.role, team=kam.team), UserFactory(role=kam.role, team=kam.team)]
    account = account or AccountFactory(owner=kam, team=kam.team)
    contacts = [ContactFactory(account=account), ContactFactory(account=account, language="zh-hans")]
    wave = open_wave(kam=kam, account=account, suppliers=suppliers, contacts=contacts, name=name)
    raters = list(wave.raters.order_by("id"))
    s_raters = [r for r in raters if r.side == "supplier"]
    c_raters = [r for r in raters if r.side == "customer"]
    for i, rater in enumerate(s_raters):
        answer_all(rater, {e: v[0][i] for e, v in WORKED.items()})
    for i, rater in enumerate(c_raters):
        answer_all(rater, {e: v[1][i] for e, v in WORKED.items()})
    return wave


def ensure_default_template() -> None:
    """Transactional tests start from a flushed database: put the seeded questionnaire back."""
    from django.apps import apps

    from keyfit.fitcanvas.models import QuestionnaireTemplate

    if not QuestionnaireTemplate.objects.filter(is_default=True).exists():
        importlib.import_module("keyfit.fitcanvas.migrations.0002_default_questionnaire").seed(apps, None)
