"""The KAM runs a fit wave: opens it, invites two customer executives, who answer on their phones (one in
Chinese, one in English; one saves and returns before submitting); the KAM closes it and reads the results."""

import datetime

import pytest
from django.utils import timezone

from keyfit.core.roles import Role
from keyfit.fitcanvas.tests.factories import ensure_default_template
from keyfit.users.tests.factories import UserFactory

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def answer_element(page, score: str, *, next_label: str) -> None:
    for fieldset in page.locator("fieldset.fit-item").all():
        fieldset.locator(f"input[type=radio][value='{score}']").check()
    page.get_by_role("button", name=next_label, exact=True).click()
    page.wait_for_load_state()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.django_db(transaction=True)
def test_kam_invites_two_executives_who_answer_on_phones_then_reads_results(login, new_page):
    from keyfit.accounts.models import Account, Contact
    from keyfit.fitcanvas.models import Answer, Rater

    ensure_default_template()
    kam = UserFactory(
        role=Role.KEY_ACCOUNT_MANAGER, email="kam.journey@example.com", full_name="Kim KAM", language="en"
    )
    account = Account.objects.create(name="Suzhou Precision", owner=kam)
    Contact.objects.create(account=account, name="王总 Wang", email="wang@customer.example", language="zh-hans")
    Contact.objects.create(account=account, name="Emily Chen", email="emily@customer.example", language="en")

    kam_page = login(kam)
    kam_page.goto("/fit/")
    form = kam_page.locator("#wave-create")
    form.locator("select[name=account]").select_option(label="Suzhou Precision")
    form.locator("input[name=name]").fill("2026 Q4 fit")
    form.locator("input[name=due_date]").fill((timezone.localdate() + datetime.timedelta(days=10)).isoformat())
    form.get_by_role("button", name="Create wave").click()
    kam_page.wait_for_selector("h1:has-text('2026 Q4 fit')")
    for name in ("王总 Wang", "Emily Chen"):
        kam_page.locator("#add-customer select[name=contact]").select_option(label=name)
        kam_page.locator("#add-customer").get_by_role("button", name="Add").click()
        kam_page.wait_for_selector(f"#raters td:has-text('{name}')")
    kam_page.click("#open-wave")
    kam_page.wait_for_selector("#invite")
    kam_page.click("#invite")
    kam_page.wait_for_selector("#new-links")
    links = {
        item.locator("strong").inner_text(): item.locator("a").get_attribute("href")
        for item in kam_page.locator("#new-links li").all()
    }
    assert set(links) == {"王总 Wang", "Emily Chen"}

    # Wang answers in Chinese on a phone, saves after two areas, comes back later in a new browser and submits
    wang = new_page(locale="zh-CN", **PHONE)
    wang.goto(links["王总 Wang"])
    assert wang.locator("html").get_attribute("lang") == "zh-hans"
    assert wang.get_by_text("该供应商理解我们未来三年的战略重点。").is_visible()
    assert no_horizontal_scroll(wang)
    answer_element(wang, "3", next_label="保存并下一步")
    for fieldset in wang.locator("fieldset.fit-item").all():
        fieldset.locator("input[type=radio][value='4']").check()
    wang.get_by_role("button", name="保存，稍后继续").click()
    wang.wait_for_selector(".fit-notice")
    wang.context.close()

    wang_again = new_page(locale="zh-CN", **PHONE)
    wang_again.goto(links["王总 Wang"] + "?step=1")
    assert wang_again.locator("fieldset.fit-item input[value='4']").first.is_checked()
    answer_element(wang_again, "4", next_label="保存并下一步")
    answer_element(wang_again, "2", next_label="保存并下一步")  # communication
    for _ in range(6):
        answer_element(wang_again, "3", next_label="保存并下一步")
    wang_again.locator("input[name=horizon][value=short]").check()
    wang_again.get_by_role("button", name="提交").click()
    wang_again.wait_for_selector(".fit-notice")
    assert "27 / 27" in wang_again.content() or "27" in wang_again.locator("main").inner_text()

    # Emily switches the page to English, answers everything including one "don't know", and submits
    emily = new_page(locale="en-US", **PHONE)
    emily.goto(links["Emily Chen"] + "?lang=zh-hans")
    emily.get_by_role("link", name="English").click()
    assert emily.get_by_text("This supplier understands our strategic priorities").is_visible()
    emily.locator("fieldset.fit-item").first.locator("input[value='0']").check()
    answer_element(emily, "4", next_label="Save and next")
    for _ in range(8):
        answer_element(emily, "3", next_label="Save and next")
    emily.locator("input[name=horizon][value=long]").check()
    emily.get_by_role("button", name="Submit").click()
    emily.wait_for_selector(".fit-notice")
    assert no_horizontal_scroll(emily)

    raters = Rater.objects.filter(wave__name="2026 Q4 fit", side="customer")
    assert all(r.submitted_at is not None for r in raters)
    assert Answer.objects.filter(rater__in=raters).count() == 54

    # the KAM closes the wave and reads radar, gaps and priorities
    errors: list[str] = []
    kam_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    kam_page.reload()
    kam_page.click("#close-wave")
    kam_page.wait_for_selector("#results")
    kam_page.wait_for_selector("#chart-radar canvas")
    kam_page.wait_for_selector("#chart-heatmap canvas")
    assert kam_page.locator("#table-elements tbody tr").count() == 9
    assert "validated by the customer" in kam_page.locator("#results").inner_text()
    assert kam_page.locator("#priorities li").first.inner_text().startswith("Communication")
    assert not errors
