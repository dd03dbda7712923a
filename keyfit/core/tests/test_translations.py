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


GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy", "npgettext"}


def test_no_translated_string_is_marked_inside_an_f_string():
    """makemessages (xgettext) does not look inside f-strings: a `_("…")` there never reaches the catalogue
    and is shown in English to every reader. Translate into a variable first, then format."""
    import ast

    found = []
    for path in sorted(Path(settings.BASE_DIR, "keyfit").rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.JoinedStr):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in GETTEXT_NAMES:
                    found.append(f"{path.relative_to(settings.BASE_DIR)}:{sub.lineno} {ast.unparse(sub)}")
    assert found == []


def test_a_string_has_one_translation_across_the_catalogues():
    """Django merges the apps' catalogues into one per language (the first app listed wins), so one English
    string translated two ways shows one of them everywhere: words that mean different things in different
    places (a "Field" visit, a data "Field") carry a context (pgettext) instead."""
    seen: dict[tuple, dict[str, str]] = {}
    for po_path in po_files():
        for entry in polib.pofile(str(po_path)):
            if entry.translated() and not entry.obsolete:
                seen.setdefault((entry.msgctxt, entry.msgid), {})[po_path.parts[-5]] = entry.msgstr
    conflicting = {key: apps for key, apps in seen.items() if len(set(apps.values())) > 1}
    assert conflicting == {}


def test_django_strings_missing_from_its_catalogue_are_translated_by_ours():
    from django.db.models.fields import BLANK_CHOICE_LABEL
    from django.utils import translation

    with translation.override("zh-hans"):
        assert str(BLANK_CHOICE_LABEL) == "- 请选择 -"
