import json

from django.core.management.base import BaseCommand, CommandError

from keyfit.core.errors import DomainError


class Command(BaseCommand):
    help = "Import a CSV/XLSX file; the last line printed is a JSON object with the final counts."

    def add_arguments(self, parser):
        parser.add_argument("kind")
        parser.add_argument("path")
        parser.add_argument("--mapping", help="mapping JSON file")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--actor", help="e-mail of the importing user (default: the first admin)")
        parser.add_argument("--encoding", default="", help="override the detected encoding")

    def handle(self, *args, **options):
        from keyfit.core.roles import Role
        from keyfit.imports import services
        from keyfit.users.models import User

        if options["actor"]:
            actor = User.objects.filter(email__iexact=options["actor"], is_active=True).first()
        else:
            actor = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
            actor = actor or User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        if actor is None:
            raise CommandError("No such active user (give --actor EMAIL).")
        try:
            job = services.import_job_create(
                actor=actor,
                kind=options["kind"],
                source_path=options["path"],
                mapping=options["mapping"],
                dry_run=options["dry_run"],
                encoding=options["encoding"],
                copy=False,
            )
            job = services.import_job_start(actor=actor, job=job, inline=True)
        except DomainError as exc:
            raise CommandError(json.dumps(exc.as_dict(), ensure_ascii=False)) from exc
        if job.status == job.Status.FAILED:
            raise CommandError(job.message)
        for message in (job.errors or [])[:20]:
            self.stderr.write(message)
        self.stdout.write(json.dumps({**services.import_result(job), "job": job.pk}, ensure_ascii=False))
