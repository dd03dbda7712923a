from django.db import migrations

from keyfit.leads.seed_data import REASONS, seed_vocabulary


def seed(apps, schema_editor):
    seed_vocabulary(apps)


def unseed(apps, schema_editor):
    apps.get_model("leads", "DisqualifyReason").objects.filter(code__in=[r[0] for r in REASONS]).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
