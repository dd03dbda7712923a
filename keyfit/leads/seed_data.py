"""Seeded vocabulary of leads (used by the data migration, and by tests after a database flush)."""

REASONS = [
    ("no_need", "No need", "没有需求"),
    ("need_no_intent_to_solve", "Need but no intent to solve", "有问题但无意解决"),
    ("no_intent", "No purchase intent", "无购买意向"),
    ("below_value_threshold", "Below value threshold", "价值低于门槛"),
    ("poor_fit", "Poor fit", "匹配度低"),
    ("duplicate", "Duplicate", "重复线索"),
    ("unreachable", "Unreachable", "无法联系"),
    ("existing_customer", "Existing customer", "现有客户"),
]


def seed_vocabulary(apps) -> None:
    """Idempotent: the disqualification reasons and the default screening policy."""
    DisqualifyReason = apps.get_model("leads", "DisqualifyReason")
    for position, (code, en, zh) in enumerate(REASONS):
        DisqualifyReason.objects.update_or_create(
            code=code, defaults={"name_en": en, "name_zh_hans": zh, "position": position}
        )
    ScreeningPolicy = apps.get_model("leads", "ScreeningPolicy")
    if not ScreeningPolicy.objects.exists():
        ScreeningPolicy.objects.create()
