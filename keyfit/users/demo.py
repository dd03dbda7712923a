"""Demo teams and users: 3 sales teams under one organisation, ~12 users across every role."""

from keyfit.core.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, DemoContext
from keyfit.core.roles import Role
from keyfit.users.models import Team, User, ViewerGrant

USERS = [
    # email, name, role, team key, language
    (DEMO_ADMIN_EMAIL, "管理员 Admin", Role.ADMIN, None, "zh-hans"),
    ("vp@keyfit.demo", "陈静 Chen Jing", Role.MANAGER, "hq", "zh-hans"),
    ("east.manager@keyfit.demo", "李伟 Li Wei", Role.MANAGER, "east", "zh-hans"),
    ("east.sdr@keyfit.demo", "王芳 Wang Fang", Role.SDR, "east", "zh-hans"),
    ("east.ae@keyfit.demo", "张强 Zhang Qiang", Role.ACCOUNT_EXECUTIVE, "east", "zh-hans"),
    ("east.kam@keyfit.demo", "刘洋 Liu Yang", Role.KEY_ACCOUNT_MANAGER, "east", "zh-hans"),
    ("south.manager@keyfit.demo", "黄敏 Huang Min", Role.MANAGER, "south", "zh-hans"),
    ("south.sdr@keyfit.demo", "周杰 Zhou Jie", Role.SDR, "south", "zh-hans"),
    ("south.ae@keyfit.demo", "吴婷 Wu Ting", Role.ACCOUNT_EXECUTIVE, "south", "zh-hans"),
    ("intl.manager@keyfit.demo", "Anna Schmidt", Role.MANAGER, "intl", "en"),
    ("intl.ae@keyfit.demo", "James Carter", Role.ACCOUNT_EXECUTIVE, "intl", "en"),
    ("intl.kam@keyfit.demo", "Priya Nair", Role.KEY_ACCOUNT_MANAGER, "intl", "en"),
    ("cfo@keyfit.demo", "赵磊 Zhao Lei", Role.VIEWER, None, "zh-hans"),
]


def seed(ctx: DemoContext) -> str:
    hq = Team.objects.create(name="销售中心 Sales HQ")
    teams = {
        "hq": hq,
        "east": Team.objects.create(name="华东 SaaS East China", parent=hq),
        "south": Team.objects.create(name="华南 制造 South China", parent=hq),
        "intl": Team.objects.create(name="International", parent=hq, timezone="Europe/Berlin"),
    }
    users: dict[str, User] = {}
    for email, name, role, team_key, language in USERS:
        user = User(
            email=email,
            full_name=name,
            role=role,
            team=teams.get(team_key),
            language=language,
            timezone="Europe/Berlin" if team_key == "intl" else "Asia/Shanghai",
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        users[email] = user
    hq.manager = users["vp@keyfit.demo"]
    hq.save()
    for key, email in [
        ("east", "east.manager@keyfit.demo"),
        ("south", "south.manager@keyfit.demo"),
        ("intl", "intl.manager@keyfit.demo"),
    ]:
        teams[key].manager = users[email]
        teams[key].save()
    ViewerGrant.objects.create(user=users["cfo@keyfit.demo"], team=hq)
    ctx.data["teams"] = teams
    ctx.data["users"] = users
    ctx.data["sellers"] = [
        u
        for u in users.values()
        if u.role in (Role.SDR, Role.ACCOUNT_EXECUTIVE, Role.KEY_ACCOUNT_MANAGER, Role.MANAGER)
        and u.team_id
        and u.team != hq
    ]
    return f"{len(teams)} teams, {len(users)} users"
