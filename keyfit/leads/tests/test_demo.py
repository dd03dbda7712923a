import pytest

from keyfit.core.demo import DemoContext


@pytest.mark.django_db
def test_demo_has_leads_in_every_status_rules_and_breaches():
    from keyfit.leads import demo as leads_demo
    from keyfit.leads.models import Lead, RoutingDecision, RoutingTeam
    from keyfit.users import demo as users_demo

    ctx = DemoContext()
    users_demo.seed(ctx)
    leads_demo.seed(ctx)
    statuses = set(Lead.objects.values_list("status", flat=True))
    assert statuses == {"new", "screening", "qualified", "converted", "nurture", "disqualified"}
    assert RoutingTeam.objects.filter(strategy="capacity").exists()
    assert (
        Lead.objects.filter(sla_breached_at__isnull=False).exists()
        or RoutingDecision.objects.filter(kind="sla").exists()
    )
    assert Lead.objects.filter(merged_into__isnull=False).count() == 1
