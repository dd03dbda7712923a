import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from keyfit.core.demo import DEMO_ADMIN_EMAIL, DemoContext


class Command(BaseCommand):
    help = "Load realistic Chinese and international B2B demo data (every app adds its own)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when demo data is already loaded.")
        parser.add_argument("--seed", type=int, default=20261125)
        parser.add_argument("--scale", type=float, default=1.0, help="Multiply the number of generated records.")

    def handle(self, *args, if_empty=False, seed=20261125, scale=1.0, **options):
        from keyfit.users.models import User

        if User.objects.filter(email=DEMO_ADMIN_EMAIL).exists():
            if if_empty:
                self.stdout.write("Demo data already loaded.")
                return
            self.stderr.write("Demo data is already loaded; use a fresh database to load it again.")
            return
        ctx = DemoContext(seed=seed, scale=scale)
        for config in apps.get_app_configs():
            if not config.name.startswith("keyfit."):
                continue
            module_name = f"{config.name}.demo"
            if importlib.util.find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
            if hasattr(module, "seed"):
                with transaction.atomic():
                    summary = module.seed(ctx)
                self.stdout.write(f"{config.label}: {summary or 'done'}")
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
