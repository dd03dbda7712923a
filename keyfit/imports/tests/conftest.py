import pytest


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def accounts(org):
    from keyfit.accounts.models import Account

    return {
        "A1": Account.objects.create(name="华东精密", owner=org.ae, team=org.teams["east"], external_id="A1"),
        "A2": Account.objects.create(name="Northwind", owner=org.ae, team=org.teams["east"], external_id="A2"),
        "S1": Account.objects.create(name="South Co", owner=org.south_ae, team=org.teams["south"], external_id="S1"),
    }
