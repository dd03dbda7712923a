"""Import journey: upload a Salesforce export, map it with the preset, dry-run, fix the rejected rows,
import, watch the job page, download the result."""

import csv
import io

import pytest

CSV = (
    "Account ID,Account Name,Industry,Billing City\r\n"
    "SF-1,华东精密制造,Manufacturing,苏州\r\n"
    "SF-2,,Technology,上海\r\n"
    'SF-3,"=HYPERLINK(""http://evil"",""x"")",Retail,杭州\r\n'
)


@pytest.mark.django_db(transaction=True)
def test_import_journey(login, tmp_path, settings):
    from keyfit.accounts.models import Account
    from keyfit.core.roles import Role
    from keyfit.users.tests.factories import UserFactory

    settings.MEDIA_ROOT = str(tmp_path / "media")
    user = UserFactory(role=Role.ADMIN, email="importer@example.com")
    source = tmp_path / "salesforce-accounts.csv"
    source.write_bytes(CSV.encode("gb18030"))

    page = login(user)
    page.goto("/imports/")
    page.set_input_files("input[name=file]", str(source))
    page.select_option("select[name=kind]", "account")
    page.select_option("select[name=preset]", "preset:salesforce")
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/map/")
    assert page.locator("select[aria-label='Account Name']").input_value() == "name"
    assert page.locator("select[aria-label='Account ID']").input_value() == "external_id"
    page.click("button[value=dry_run]")
    page.wait_for_selector("#job-state:has-text('Done')")
    assert page.locator("[data-count=created]").inner_text() == "2"
    assert page.locator("[data-count=rejected]").inner_text() == "1"
    assert "row 3, column Account Name: This field is required." in page.locator("#job-errors").inner_text()
    assert Account.objects.count() == 0

    # fix the rejected row in the downloaded file
    with page.expect_download() as info:
        page.click("#download-rejected")
    rejected = info.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(rejected)))
    assert rows[0] == ["Account ID", "Account Name", "Industry", "Billing City", "Errors"]
    assert rows[1][0] == "SF-2"

    page.click("#import-now")
    page.wait_for_selector("#job-state:has-text('Done')")
    assert page.locator("progress").get_attribute("value") == "100"
    assert page.locator("[data-count=created]").inner_text() == "2"
    assert Account.objects.count() == 2

    fixed = tmp_path / "fixed.csv"
    rows[1][1] = "Shanghai Cloud Co"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([r[:-1] for r in rows])
    fixed.write_text(buffer.getvalue(), encoding="utf-8-sig")
    page.goto("/imports/")
    page.set_input_files("input[name=file]", str(fixed))
    page.select_option("select[name=kind]", "account")
    page.select_option("select[name=preset]", "preset:salesforce")
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/map/")
    page.click("button[value=import]")
    page.wait_for_selector("#job-state:has-text('Done')")
    assert page.locator("[data-count=created]").inner_text() == "1"
    assert page.locator("[data-count=rejected]").inner_text() == "0"
    assert Account.objects.count() == 3

    # the page reload keeps the state; download the records
    page.reload()
    page.wait_for_selector("#job-state:has-text('Done')")
    with page.expect_download() as info:
        page.click("#download-result")
    exported = info.value.path().read_bytes()
    assert exported.startswith(b"\xef\xbb\xbf")
    text = exported.decode("utf-8-sig")
    assert "华东精密制造" in text and "Shanghai Cloud Co" in text
    assert "'=HYPERLINK" in text
