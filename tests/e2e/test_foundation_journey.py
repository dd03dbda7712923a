"""Acceptance journey of the foundation: log in, switch to 中文, create an account and a contact, see the audit."""

import pytest

from keyfit.accounts.models import Account, Contact
from keyfit.core.roles import Role
from keyfit.users.models import Team
from keyfit.users.tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_create_account_and_contact_in_chinese_and_see_the_audit(login):
    team = Team.objects.create(name="华东 East")
    user = UserFactory(email="ae.journey@example.com", full_name="张强", role=Role.ACCOUNT_EXECUTIVE, team=team)
    page = login(user)
    page.get_by_role("button", name="中文").click()
    page.wait_for_selector("text=欢迎，张强")

    page.get_by_role("link", name="客户", exact=True).first.click()
    page.wait_for_url("**/accounts/")
    page.get_by_role("link", name="新建客户").click()
    page.locator("#id_name").fill("杭州云启科技有限公司")
    page.locator("#id_website").fill("https://www.yunqi.example.cn")
    page.locator("#id_tier").select_option("key")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("h1:has-text('杭州云启科技有限公司')")
    assert page.get_by_text("客户已创建。").is_visible()
    account = Account.objects.get(name="杭州云启科技有限公司")
    assert account.domain == "yunqi.example.cn"
    assert account.owner == user

    timeline = page.locator("#timeline")
    assert timeline.get_by_text("张强").first.is_visible()
    timeline.locator("summary").first.click()
    assert timeline.get_by_text("杭州云启科技有限公司").first.is_visible()

    page.get_by_role("link", name="新建联系人").click()
    page.locator("#id_name").fill("李伟")
    page.locator("#id_title").fill("首席信息官")
    page.locator("#id_email").fill("not-an-email")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector(".errorlist")
    assert Contact.objects.count() == 0
    page.locator("#id_email").fill("li.wei@yunqi.example.cn")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("h1:has-text('李伟')")
    contact = Contact.objects.get()
    assert contact.account == account
    assert contact.email == "li.wei@yunqi.example.cn"
    assert page.locator("#timeline").get_by_text("张强").first.is_visible()

    page.get_by_role("link", name="杭州云启科技有限公司").first.click()
    assert page.locator("#org-chart").get_by_role("link", name="李伟").is_visible()

    csp_errors = []
    page.on("console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.get_by_role("link", name="全屏组织架构图").click()
    page.wait_for_selector("#org-tree canvas")
    assert not csp_errors


@pytest.mark.django_db(transaction=True)
def test_api_docs_render_offline_under_csp(new_page):
    page = new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    assert page.locator(".opblock-summary-path", has_text="/api/v1/accounts").first.is_visible()
    assert not [e for e in errors if "Content Security Policy" in e]
