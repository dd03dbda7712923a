import pytest

from keyfit.core.demo import DemoContext
from keyfit.fitcanvas import demo, selectors

pytestmark = pytest.mark.django_db


def test_demo_shows_a_persistent_blind_spot_in_communication():
    from keyfit.users import demo as users_demo

    ctx = DemoContext()
    users_demo.seed(ctx)
    assert "3 fit waves" in demo.seed(ctx)
    first, second, current = ctx.data["fit_waves"]
    assert (first.status, second.status, current.status) == ("closed", "closed", "open")
    for wave in (second, current):
        results = selectors.wave_results(wave)
        assert "PLAN_COMMUNICATION" in results["persistent_bias"]
        assert results["elements"]["PLAN_COMMUNICATION"]["gap_direction"] == "blind_spot"
    assert len(selectors.wave_results(current)["trend"]) == 3
