from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


def po_files() -> list[Path]:
    return sorted(Path(settings.BASE_DIR, "keyfit").glob("*/locale/*/LC_MESSAGES/django.po"))


def compile_all(force: bool = False) -> int:
    compiled = 0
    for po_path in po_files():
        mo_path = po_path.with_suffix(".mo")
        if force or not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
            compiled += 1
    return compiled


class Command(BaseCommand):
    help = "Compile the zh-Hans catalogues (.po → .mo) without needing GNU gettext."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true")

    def handle(self, *args, force=False, **options):
        self.stdout.write(f"compiled {compile_all(force)} catalogue(s)")
