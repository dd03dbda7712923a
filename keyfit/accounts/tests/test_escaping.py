"""The list rows are built in Python for speed: every value must still be escaped."""

import pytest
from django.urls import reverse

from keyfit.accounts.tests.factories import AccountFactory

EVIL = '<script>alert("x")</script>&"'


@pytest.mark.django_db
def test_account_list_escapes_every_cell(client, org):
    org.teams["east"].name = f"Team {EVIL}"
    org.teams["east"].save()
    org.ae.full_name = f"Rep {EVIL}"
    org.ae.save()
    AccountFactory(name=f"Acme {EVIL}", owner=org.ae, team=org.teams["east"], city=EVIL[:100], country="CN")
    client.force_login(org.admin)
    html = client.get(reverse("accounts:account_list")).content.decode()
    assert "<script>alert" not in html
    assert "Acme &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;" in html
    assert "Rep &lt;script&gt;" in html and "Team &lt;script&gt;" in html


@pytest.mark.django_db
def test_board_cards_escape_names(client, org):
    from keyfit.pipeline.tests.factories import OpportunityFactory

    OpportunityFactory(name=f"Deal {EVIL}", owner=org.ae)
    client.force_login(org.admin)
    html = client.get(reverse("pipeline:board")).content.decode()
    assert "<script>alert" not in html
    assert "Deal &lt;script&gt;" in html
