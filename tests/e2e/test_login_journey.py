import pytest

from keyfit.users.tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_log_in_switch_to_chinese_and_log_out(login):
    user = UserFactory(email="journey@example.com", full_name="Journey User", language="en")
    page = login(user)
    assert page.get_by_role("heading", name="Welcome, Journey User").is_visible()
    page.get_by_role("button", name="中文").click()
    page.wait_for_selector("text=欢迎，Journey User")
    user.refresh_from_db()
    assert user.language == "zh-hans"
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login/")
