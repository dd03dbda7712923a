import pytest

from keyfit.core.demo import DemoContext
from keyfit.valuecase.choices import CaseState
from keyfit.valuecase.models import ValueCase
from keyfit.valuecase.selectors import case_figures

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("with_accounts", [False, True])
def test_demo_seeds_every_state_and_the_scrm_example(with_accounts):
    from keyfit.accounts import demo as accounts_demo
    from keyfit.users import demo as users_demo
    from keyfit.valuecase import demo

    ctx = DemoContext()
    users_demo.seed(ctx)
    if with_accounts:
        accounts_demo.seed(ctx)
    demo.seed(ctx)
    assert set(ValueCase.objects.values_list("state", flat=True)) == set(CaseState.values)
    v1, v2 = ctx.data["value_cases"][:2]
    assert v1.opportunity_id == v2.opportunity_id and (v1.number, v2.number) == (1, 2)
    f1, f2 = case_figures(v1), case_figures(v2)
    assert (f1.av, f1.cc, f1.cv, f1.net) == (6000, 3500, 2000, -1500)
    assert (f2.cv, f2.net) == (5000, 1500) and v2.state == CaseState.ACKNOWLEDGED
    assert ValueCase.objects.filter(compliance_flag=True).count() == 1
