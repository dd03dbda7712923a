import datetime

import factory

from keyfit.leads.models import Lead, LeadSignal, RoutingMember, RoutingRule, RoutingTeam, WorkingCalendar


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    contact_name = factory.Sequence(lambda n: f"Contact {n}")
    company_name = factory.Sequence(lambda n: f"Company {n}")
    email = factory.Sequence(lambda n: f"person{n}@company{n}.cn")
    email_normalized = factory.LazyAttribute(lambda o: o.email.lower())
    company_domain = factory.LazyAttribute(lambda o: o.email.split("@")[1])
    source = "manual"


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadSignal

    lead = factory.SubFactory(LeadFactory)
    signal_type = "proposal"
    originator = "customer"


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingCalendar

    name = factory.Sequence(lambda n: f"Calendar {n}")
    timezone = "Asia/Shanghai"
    weekdays = [0, 1, 2, 3, 4]
    day_start = datetime.time(9, 0)
    day_end = datetime.time(18, 0)


class RoutingTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingTeam

    strategy = "round_robin"
    sla_minutes = 240


class RoutingMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingMember

    position = factory.Sequence(lambda n: n)


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: n)
    conditions = factory.LazyFunction(list)
