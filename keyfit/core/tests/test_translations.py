"""zh-Hans is a first-class language: every marked string has a translation."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

from keyfit.core.management.commands.compile_translations import po_files


def test_there_is_a_catalogue_per_app():
    apps = {p.parent.name for p in Path(settings.BASE_DIR, "keyfit").glob("*/locale")}
    assert {"core", "users", "accounts"} <= apps
    assert len(po_files()) >= 3


@pytest.mark.parametrize("po_path", po_files(), ids=lambda p: p.parts[-5])
def test_catalogue_entries_are_all_translated(po_path):
    po = polib.pofile(str(po_path))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert untranslated == [], f"{po_path}: untranslated {untranslated[:10]}"
    assert fuzzy == [], f"{po_path}: fuzzy {fuzzy[:10]}"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_catalogues_contain_every_marked_string(tmp_path):
    """Extract the strings of each app afresh and check the committed catalogue has them all."""
    missing: dict[str, list[str]] = {}
    for po_path in po_files():
        app_dir = po_path.parents[3]
        copy = tmp_path / app_dir.name
        shutil.copytree(app_dir, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "tests"))
        (copy / "locale").mkdir()
        subprocess.run(
            [
                sys.executable,
                "-P",
                "-m",
                "django",
                "makemessages",
                "-l",
                "zh_Hans",
                "--no-location",
                "--settings",
                "config.settings_test",
            ],
            cwd=copy,
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(settings.BASE_DIR), "KEYFIT_TESTING": "1"},
        )
        fresh = copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
        if not fresh.exists():
            continue
        committed = {e.msgid for e in polib.pofile(str(po_path)) if e.translated()}
        absent = [e.msgid for e in polib.pofile(str(fresh)) if e.msgid not in committed]
        if absent:
            missing[app_dir.name] = absent
    assert missing == {}, f"run `python manage.py update_translations` and translate: {missing}"
