import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Export every record of KIND (or 'all' as a ZIP of CSVs) to PATH (.csv or .xlsx)."

    def add_arguments(self, parser):
        parser.add_argument("kind")
        parser.add_argument("path")
        parser.add_argument("--actor", help="e-mail of the exporting user (default: the first admin)")
        parser.add_argument("--no-bom", action="store_true")

    def handle(self, *args, **options):
        from keyfit.core.roles import Role
        from keyfit.imports.exporting import export_all, export_kind
        from keyfit.imports.kinds import get_kind
        from keyfit.users.models import User

        if options["actor"]:
            actor = User.objects.filter(email__iexact=options["actor"], is_active=True).first()
        else:
            actor = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
        if actor is None:
            raise CommandError("No such active user (give --actor EMAIL).")
        path = Path(options["path"])
        if options["kind"] == "all":
            counts = export_all(actor, path)
            result = {"rows": sum(counts.values()), "kinds": counts, "path": str(path)}
        else:
            kind = get_kind(options["kind"])
            file_format = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
            rows = export_kind(kind, kind.visible(actor), path, file_format=file_format, bom=not options["no_bom"])
            result = {"rows": rows, "path": str(path)}
        self.stdout.write(json.dumps(result, ensure_ascii=False))
