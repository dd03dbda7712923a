"""Seeded vocabulary of the pipeline (used by the data migration; edit the rows in the admin afterwards)."""

# code, English, 简体中文, position, kind, default probability, forecast category
STAGES = [
    ("s0_prospect", "S0 Prospect capture", "S0 潜在客户获取", 0, "lead", 0, "omitted"),
    ("s1_lead", "S1 Lead assignment", "S1 线索分配", 10, "lead", 5, "omitted"),
    ("s2_conversion", "S2 Opportunity conversion", "S2 商机转化", 20, "lead", 10, "omitted"),
    ("s3_guiding", "S3 Guiding expectations", "S3 引导期望", 30, "open", 20, "pipeline"),
    ("s4_value", "S4 Creating value", "S4 创造价值", 40, "open", 60, "best_case"),
    ("won", "Won", "赢单", 50, "won", 100, "closed"),
    ("lost", "Lost", "丢单", 60, "lost", 0, "omitted"),
    ("s5_onboarding", "S5 Onboarding", "S5 客户上线", 70, "success", 100, "closed"),
    ("s5_adoption", "S5 Adoption", "S5 使用推广", 80, "success", 100, "closed"),
    ("s5_value_realised", "S5 Value realised", "S5 价值实现", 90, "success", 100, "closed"),
    ("s5_renewal", "S5 Renewal / expansion", "S5 续约 / 扩展", 100, "success", 100, "closed"),
]

# stage, requirement, when
STAGE_REQUIREMENTS = [
    ("s3_guiding", "mne_complete", "leave"),
    ("s3_guiding", "economic_buyer_identified", "leave"),
    ("s3_guiding", "decision_criteria_known", "leave"),
    ("s3_guiding", "feasibility_confirmed_by_customer", "leave"),
    ("s3_guiding", "risk_flags_cleared", "leave"),
    ("s4_value", "value_case_acknowledged", "leave"),
    ("won", "contract_signed", "enter"),
]

LOST_REASONS = [
    ("negative_net_value", "Net value for the customer ≤ 0", "客户净价值 ≤ 0", 10),
    ("competitor", "Lost to a competitor", "输给竞争对手", 20),
    ("no_decision", "No decision", "客户未做决定", 30),
    ("only_method", "Customer was only seeking a method", "客户只是在寻找方法", 40),
    ("not_buying_from_us", "Customer was not going to buy from us", "客户不打算向我们购买", 50),
    ("budget", "No budget", "没有预算", 60),
    ("timing", "Timing / project postponed", "时机不对 / 项目推迟", 70),
    ("other", "Other", "其他", 99),
]

# code, MNE category, MEDDPICC letter, English, 简体中文
QUESTIONS = [
    (
        "why_now",
        "motivation",
        "I",
        "Why is this a priority now rather than next year?",
        "为什么现在而不是明年把这件事列为优先事项？",
    ),
    (
        "trigger_event",
        "motivation",
        "I",
        "What happened that made you look at this?",
        "是什么事情促使您开始关注这个问题？",
    ),
    (
        "cost_of_inaction",
        "motivation",
        "M",
        "What does it cost you if nothing changes?",
        "如果什么都不改变，会给您带来多大损失？",
    ),
    (
        "personal_win",
        "motivation",
        "C1",
        "What would success mean for you personally?",
        "这件事成功对您个人意味着什么？",
    ),
    ("strategy_link", "motivation", "E", "Which company goal does this support?", "这件事支持公司的哪个目标？"),
    (
        "who_cares_most",
        "motivation",
        "C1",
        "Who in your organisation cares most about solving this?",
        "贵公司谁最关心解决这个问题？",
    ),
    ("pressure_source", "motivation", "I", "Where does the pressure to change come from?", "变革的压力来自哪里？"),
    ("exec_sponsor", "motivation", "E", "Which executive sponsors this initiative?", "哪位高管支持这个项目？"),
    ("problem_today", "need", "I", "How do you handle this today?", "目前你们是如何处理这件事的？"),
    (
        "must_solve",
        "need",
        "I",
        "Do you need to solve this, or would it be nice to solve?",
        "这个问题是必须解决，还是解决了更好？",
    ),
    ("impact_measure", "need", "M", "How do you measure the problem today?", "目前你们如何衡量这个问题？"),
    ("affected_teams", "need", "I", "Which teams are affected, and how?", "哪些团队受到影响？影响如何？"),
    (
        "tried_before",
        "need",
        "C2",
        "What have you tried before, and what happened?",
        "你们以前尝试过什么方法？结果如何？",
    ),
    ("alternatives", "need", "C2", "Which other options are you considering?", "你们还在考虑哪些其他方案？"),
    ("budget_owner", "need", "E", "Who owns the budget for this?", "这笔预算由谁负责？"),
    (
        "approval_steps",
        "need",
        "D2",
        "What steps does a purchase like this go through?",
        "这样的采购需要经过哪些步骤？",
    ),
    ("legal_review", "need", "P", "Who reviews and signs the contract?", "合同由谁审核和签署？"),
    (
        "timeline",
        "need",
        "D2",
        "By when must a decision be made, and why then?",
        "必须在什么时候做出决定？为什么是那个时间？",
    ),
    (
        "success_picture",
        "expectations",
        "M",
        "What will be different when this works?",
        "当这件事成功后，会有什么不同？",
    ),
    ("success_metric", "expectations", "M", "Which number will tell you it worked?", "哪个指标能说明项目成功了？"),
    (
        "decision_criteria",
        "expectations",
        "D1",
        "Which criteria will you use to choose a supplier?",
        "你们会用什么标准来选择供应商？",
    ),
    (
        "must_haves",
        "expectations",
        "D1",
        "What is a must-have, and what is a nice-to-have?",
        "哪些是必须具备的，哪些是锦上添花的？",
    ),
    (
        "feasibility",
        "expectations",
        "D1",
        "Does the approach we discussed look feasible to you?",
        "我们讨论的方案在您看来可行吗？",
    ),
    ("first_90_days", "expectations", "M", "What do you expect in the first 90 days?", "您对前 90 天有什么期望？"),
    (
        "role_of_supplier",
        "expectations",
        "C1",
        "What do you expect from us beyond the product?",
        "除了产品之外，您还期望我们提供什么？",
    ),
    ("risks_seen", "expectations", "D1", "What could make this project fail?", "什么因素可能导致这个项目失败？"),
    ("who_decides", "expectations", "E", "Who makes the final decision?", "最终由谁做决定？"),
    (
        "champion_help",
        "expectations",
        "C1",
        "Will you help us present this internally?",
        "您愿意帮助我们在内部推动这件事吗？",
    ),
    ("paper_timeline", "expectations", "P", "How long does procurement usually take?", "采购流程通常需要多长时间？"),
    (
        "competitor_view",
        "expectations",
        "C2",
        "How do you see us compared with the others?",
        "与其他供应商相比，您如何看待我们？",
    ),
]


def seed_vocabulary(apps=None) -> None:
    """Create or refresh the seeded rows (idempotent). `apps`: the migration state, else the live models.

    Transactional tests flush the database; they call this again (fixture ``pipeline_vocabulary``).
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Stage = apps.get_model("pipeline", "Stage")
    StageRequirement = apps.get_model("pipeline", "StageRequirement")
    LostReason = apps.get_model("pipeline", "LostReason")
    Question = apps.get_model("pipeline", "Question")
    PipelineSettings = apps.get_model("pipeline", "PipelineSettings")
    stages = {}
    for code, en, zh, position, kind, probability, forecast in STAGES:
        stages[code], _ = Stage.objects.get_or_create(
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
    if not StageRequirement.objects.exists():
        for stage, requirement, when in STAGE_REQUIREMENTS:
            StageRequirement.objects.create(stage=stages[stage], requirement=requirement, when=when)
    for code, en, zh, position in LOST_REASONS:
        LostReason.objects.get_or_create(code=code, defaults={"name_en": en, "name_zh_hans": zh, "position": position})
    for position, (code, category, letter, en, zh) in enumerate(QUESTIONS, start=1):
        Question.objects.get_or_create(
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
