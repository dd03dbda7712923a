import io
import json
import zipfile

from django.core.management import call_command

from keyfit.accounts.models import Account


def test_import_file_and_export_data_print_json_counts(org, tmp_path):
    source = tmp_path / "accounts.csv"
    source.write_bytes("external_id,name,tier\r\nA1,华东精密,key\r\nA2,,key\r\n".encode("gb18030"))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"columns": {"external_id": "external_id", "name": "name", "tier": "tier"}}))
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_file",
        "account",
        str(source),
        "--mapping",
        str(mapping),
        "--actor",
        org.ae.email,
        stdout=out,
        stderr=err,
    )
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert {k: result[k] for k in ("rows", "created", "updated", "unchanged", "rejected")} == {
        "rows": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert result["rejected_file"].endswith("-rejected.csv")
    assert "row 3, column name: This field is required." in err.getvalue()
    assert Account.objects.get(external_id="A1").owner == org.ae

    out = io.StringIO()
    call_command("import_file", "account", str(source), "--mapping", str(mapping), "--dry-run", stdout=out)
    dry = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (dry["unchanged"], dry["rejected"], dry["created"]) == (1, 1, 0)

    target = tmp_path / "out.csv"
    out = io.StringIO()
    call_command("export_data", "account", str(target), "--actor", org.admin.email, stdout=out)
    assert json.loads(out.getvalue().strip().splitlines()[-1])["rows"] == 1
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    everything = tmp_path / "all.zip"
    out = io.StringIO()
    call_command("export_data", "all", str(everything), "--actor", org.admin.email, stdout=out)
    assert "account.csv" in zipfile.ZipFile(everything).namelist()
