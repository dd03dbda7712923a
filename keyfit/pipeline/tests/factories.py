import factory

from keyfit.accounts.models import Account, Contact
from keyfit.pipeline.models import Activity, Opportunity, Stage
from keyfit.users.tests.factories import UserFactory


class PipelineAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    owner = factory.SubFactory(UserFactory)
    team = factory.LazyAttribute(lambda o: o.owner.team)


class PipelineContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(PipelineAccountFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")


class OpportunityFactory(factory.django.DjangoModelFactory):
    """A plain row in S3 (no history). Use services.opportunity_create for a realistic one."""

    class Meta:
        model = Opportunity

    name = factory.Sequence(lambda n: f"Deal {n}")
    owner = factory.SubFactory(UserFactory)
    team = factory.LazyAttribute(lambda o: o.owner.team)
    account = factory.LazyAttribute(lambda o: PipelineAccountFactory(owner=o.owner, team=o.team))
    stage = factory.LazyFunction(lambda: Stage.objects.get(code="s3_guiding"))
    computed_probability = 20


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    kind = "call"
    subject = factory.Sequence(lambda n: f"Call {n}")
    opportunity = factory.SubFactory(OpportunityFactory)
    account = factory.LazyAttribute(lambda o: o.opportunity.account)
    owner = factory.LazyAttribute(lambda o: o.opportunity.owner)
    team = factory.LazyAttribute(lambda o: o.owner.team)
