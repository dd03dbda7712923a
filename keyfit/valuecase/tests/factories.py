from decimal import Decimal

import factory

from keyfit.pipeline.tests.factories import OpportunityFactory, PipelineContactFactory
from keyfit.valuecase.models import CostItem, Driver, MentalItem, Rating, ValueCase


class ValueCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValueCase

    opportunity = factory.SubFactory(OpportunityFactory)
    number = factory.Sequence(lambda n: n + 1)
    currency = factory.LazyAttribute(lambda o: o.opportunity.currency)


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver

    case = factory.SubFactory(ValueCaseFactory)
    contributor = "product"
    description = factory.Sequence(lambda n: f"Driver {n}")
    activity = "operations"
    amount = Decimal("1000")
    basis_kind = "assumption"
    basis = "customer's own figure"


class CostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostItem

    case = factory.SubFactory(ValueCaseFactory)
    kind = "price"
    amount = Decimal("100")
    basis_kind = "formula"
    basis = "list price"


class RatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rating

    case = factory.SubFactory(ValueCaseFactory)
    product = 3
    kpi = 3
    service = 3


class MentalItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MentalItem

    case = factory.SubFactory(ValueCaseFactory)
    kind = "peer_comparison"
    description = "Peer paid more"
    amount = Decimal("200")


def scrm_case(*, actor, opportunity, ratings=(2, 2, 3)):
    """The article's SCRM example built through the services: PV 5,000, SV 1,000, CC 3,500."""
    from keyfit.valuecase import services

    case = services.value_case_create(actor=actor, opportunity=opportunity)
    add = services.value_case_line_add
    add(
        actor=actor,
        case=case,
        kind="drivers",
        data={
            "contributor": "product",
            "description": "SCRM: fewer lost leads",
            "activity": "marketing_sales",
            "quantity": "50",
            "unit_value": "100",
            "basis_kind": "formula",
            "basis": "50 leads a year × 100 margin",
            "confidence": "medium",
        },
    )
    add(
        actor=actor,
        case=case,
        kind="drivers",
        data={
            "contributor": "seller",
            "description": "Implementation guidance",
            "activity": "technology",
            "amount": "1000",
            "basis_kind": "assumption",
            "basis": "two weeks of consultant time saved",
        },
    )
    add(
        actor=actor,
        case=case,
        kind="costs",
        data={"kind": "price", "amount": "3500", "basis_kind": "formula", "basis": "annual licence"},
    )
    p, k, s = ratings
    add(actor=actor, case=case, kind="ratings", data={"product": p, "kpi": k, "service": s})
    case.refresh_from_db()
    return case


__all__ = ["PipelineContactFactory", "scrm_case"]
