from django.db import migrations

from keyfit.pipeline.seed_data import seed_vocabulary


def seed(apps, schema_editor):
    seed_vocabulary(apps)


def unseed(apps, schema_editor):
    apps.get_model("pipeline", "StageRequirement").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
