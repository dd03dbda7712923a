from django.db import migrations

from keyfit.pipeline.seed_data import LOST_REASONS, QUESTIONS, STAGE_REQUIREMENTS, STAGES


def seed(apps, schema_editor):
    Stage = apps.get_model("pipeline", "Stage")
    StageRequirement = apps.get_model("pipeline", "StageRequirement")
    LostReason = apps.get_model("pipeline", "LostReason")
    Question = apps.get_model("pipeline", "Question")
    PipelineSettings = apps.get_model("pipeline", "PipelineSettings")
    stages = {}
    for code, en, zh, position, kind, probability, forecast in STAGES:
        stages[code], _ = Stage.objects.update_or_create(
            code=code,
            defaults={
                "name_en": en,
                "name_zh_hans": zh,
                "position": position,
                "kind": kind,
                "default_probability": probability,
                "forecast_category": forecast,
            },
        )
    for stage, requirement, when in STAGE_REQUIREMENTS:
        StageRequirement.objects.get_or_create(stage=stages[stage], requirement=requirement, when=when)
    for code, en, zh, position in LOST_REASONS:
        LostReason.objects.update_or_create(
            code=code, defaults={"name_en": en, "name_zh_hans": zh, "position": position}
        )
    for position, (code, category, letter, en, zh) in enumerate(QUESTIONS, start=1):
        Question.objects.update_or_create(
            code=code,
            defaults={
                "name_en": en,
                "name_zh_hans": zh,
                "position": position * 10,
                "category": category,
                "meddpicc": letter,
            },
        )
    PipelineSettings.objects.get_or_create(pk=1)


def unseed(apps, schema_editor):
    apps.get_model("pipeline", "StageRequirement").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
