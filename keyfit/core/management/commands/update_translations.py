import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


def app_dirs() -> list[Path]:
    return sorted(p.parent.parent for p in Path(settings.BASE_DIR, "keyfit").glob("*/locale/zh_Hans"))


class Command(BaseCommand):
    help = "Extract translatable strings of every keyfit app into its zh_Hans catalogue (needs GNU gettext)."

    def handle(self, *args, **options):
        for app_dir in app_dirs():
            subprocess.run(
                [
                    sys.executable,
                    "-P",
                    "-m",
                    "django",
                    "makemessages",
                    "-l",
                    "zh_Hans",
                    "--no-obsolete",
                    "--no-location",
                    "--settings",
                    "config.settings_test",
                ],
                cwd=app_dir,
                check=True,
                env={"PYTHONPATH": str(settings.BASE_DIR), "PATH": "/usr/bin:/bin", "KEYFIT_TESTING": "1"},
            )
            self.stdout.write(f"updated {app_dir.name}")
