"""Import and export jobs: create, run (inline or as a background task), cancel, resume."""

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keyfit.core.audit import audit_record
from keyfit.core.errors import PermissionDenied, ValidationFailed
from keyfit.core.models import AuditEvent
from keyfit.core.roles import Role
from keyfit.imports import readers
from keyfit.imports.engine import ERRORS_KEPT, Engine, RejectedWriter, run_rows
from keyfit.imports.kinds import get_kind
from keyfit.imports.mapping import auto_mapping, compile_mapping, ensure_custom_fields, load_mapping
from keyfit.imports.models import ImportJob, SavedMapping

INLINE_BYTES = 512 * 1024  # files up to this size run inline (no worker round trip)
INLINE_EXPORT_ROWS = 5000


def storage_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_may_import(actor) -> None:
    if not getattr(actor, "is_authenticated", False) or not actor.is_active or actor.role == Role.VIEWER:
        raise PermissionDenied(_("Your role may not import records."))


@transaction.atomic
def import_job_create(
    *,
    actor,
    kind: str,
    source_path: str | os.PathLike | None = None,
    upload=None,
    original_name: str = "",
    mapping: Any = None,
    dry_run: bool = False,
    encoding: str = "",
    copy: bool = True,
) -> ImportJob:
    """Store the file and create the job (status: waiting for its mapping, or queued if one is given)."""
    _check_may_import(actor)
    k = get_kind(kind)
    data = load_mapping(mapping)
    name = original_name or (upload.name if upload is not None else Path(str(source_path)).name)
    file_format = readers.detect_format(name)
    job = ImportJob.objects.create(
        owner=actor,
        kind=k.name,
        original_name=name[:255],
        file_format=file_format,
        mapping=data,
        dry_run=dry_run,
        encoding=encoding or str(data.get("encoding") or ""),
    )
    target = storage_dir() / f"{job.pk}-{uuid.uuid4().hex[:8]}.{file_format}"
    if upload is not None:
        with open(target, "wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
    elif copy:
        shutil.copyfile(source_path, target)
    else:
        target = Path(source_path)
    job.file_path = str(target)
    try:
        header, _samples, detected, _delimiter = readers.sample(
            target, file_format=file_format, encoding=job.encoding or None, delimiter=data.get("delimiter")
        )
    except (UnicodeDecodeError, OSError, ValueError) as exc:
        raise ValidationFailed(fields={"file": [_("The file cannot be read: %(e)s") % {"e": exc}]}) from exc
    if not header:
        raise ValidationFailed(fields={"file": [_("The file has no header row.")]})
    job.encoding = job.encoding or detected
    job.rows_total = readers.estimate_rows(target, file_format)
    job.save()
    return job


def job_columns(job: ImportJob) -> tuple[list[str], list[list[str]]]:
    header, samples, _enc, _delim = readers.sample(
        job.file_path,
        file_format=job.file_format,
        encoding=job.encoding or None,
        delimiter=(job.mapping or {}).get("delimiter"),
    )
    return header, samples


def import_job_set_mapping(*, actor, job: ImportJob, mapping: Any, dry_run: bool | None = None) -> ImportJob:
    """Validate the mapping against the file's header; raises ValidationFailed on unknown fields."""
    _check_owner(actor, job)
    data = load_mapping(mapping)
    k = get_kind(job.kind)
    ensure_custom_fields(k, data, actor=actor)
    header, _samples = job_columns(job)
    _compile(job, k, header, data)
    job.mapping = data
    if dry_run is not None:
        job.dry_run = dry_run
    if data.get("encoding"):
        job.encoding = data["encoding"]
    job.save(update_fields=["mapping", "dry_run", "encoding"])
    return job


def _compile(job, k, header, data):
    from keyfit.core.customfields import custom_field_definitions

    keys = {d.key for d in custom_field_definitions(k.custom_target)} if k.custom_target else set()
    return compile_mapping(k, header, data or auto_mapping(k, header), custom_keys=keys)


def _check_owner(actor, job: ImportJob) -> None:
    from keyfit.core.permissions import is_admin

    if job.owner_id != actor.pk and not is_admin(actor):
        from keyfit.core.errors import NotFound

        raise NotFound()


def import_job_start(*, actor, job: ImportJob, inline: bool | None = None) -> ImportJob:
    """Queue the job (or run it right away for a small file)."""
    _check_owner(actor, job)
    k = get_kind(job.kind)
    ensure_custom_fields(k, job.mapping or {}, actor=actor)
    header, _samples = job_columns(job)
    _compile(job, k, header, job.mapping)  # fail now, not in the worker
    if job.status in (ImportJob.Status.RUNNING, ImportJob.Status.QUEUED):
        return job
    if job.status in (ImportJob.Status.DONE,) and not job.dry_run:
        return job
    if job.status == ImportJob.Status.DONE and job.dry_run:
        _reset(job)
    job.status = ImportJob.Status.QUEUED
    job.cancel_requested = False
    job.message = ""
    job.save(update_fields=["status", "cancel_requested", "message"])
    if inline is None:
        inline = os.path.getsize(job.file_path) <= INLINE_BYTES
    if inline:
        import_job_run(job_id=job.pk)
    else:
        from keyfit.imports.tasks import run_import_job

        transaction.on_commit(lambda: run_import_job.enqueue(job.pk))
    job.refresh_from_db()
    return job


def _reset(job: ImportJob) -> None:
    job.rows_done = job.created = job.updated = job.unchanged = job.rejected = 0
    job.errors = []
    job.rejected_bytes = 0
    job.started_at = job.finished_at = None


def import_job_cancel(*, actor, job: ImportJob) -> ImportJob:
    _check_owner(actor, job)
    if job.status == ImportJob.Status.QUEUED:
        job.status = ImportJob.Status.CANCELLED
    job.cancel_requested = True
    job.save(update_fields=["cancel_requested", "status"])
    return job


def import_job_resume(*, actor, job: ImportJob) -> ImportJob:
    """Re-run a cancelled or failed job from its last committed batch."""
    _check_owner(actor, job)
    stuck = job.status == ImportJob.Status.RUNNING and job.cancel_requested  # its worker died
    if job.status not in (ImportJob.Status.CANCELLED, ImportJob.Status.FAILED) and not stuck:
        raise ValidationFailed(fields={"status": [_("Only a cancelled or failed import can be resumed.")]})
    job.status = ImportJob.Status.MAPPING
    job.cancel_requested = False
    job.save(update_fields=["status", "cancel_requested"])
    return import_job_start(actor=actor, job=job)


def import_job_run(*, job_id: int) -> ImportJob:
    """Run (or resume) a job in its owner's language; commits counts and the row offset with every batch."""
    from django.utils import translation

    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    with translation.override(getattr(job.owner, "language", None) or translation.get_language()):
        return _import_job_run(job)


def _import_job_run(job: ImportJob) -> ImportJob:
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.CANCELLED) or job.cancel_requested:
        if job.cancel_requested and job.status != ImportJob.Status.CANCELLED:
            ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.CANCELLED)
        return job
    actor = job.owner
    k = get_kind(job.kind)
    table = readers.open_table(
        job.file_path,
        file_format=job.file_format,
        encoding=job.encoding or None,
        delimiter=(job.mapping or {}).get("delimiter"),
    )
    try:
        compiled = _compile(job, k, table.header, job.mapping)
        engine = Engine(compiled, actor=actor, dry_run=job.dry_run)
        rejected_path = Path(job.rejected_path or storage_dir() / f"{job.pk}-rejected.csv")
        writer = RejectedWriter(rejected_path, table.header, resume_at=job.rejected_bytes if job.rows_done else 0)
        if not job.rows_done:
            _reset(job)
        job.rejected_path = str(rejected_path)
        job.status = ImportJob.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.save()
        errors = list(job.errors or [])

        def on_batch(rows, counts, done) -> bool:
            for row in rows:
                if row.outcome == "rejected":
                    writer.add(row)
                    if len(errors) < ERRORS_KEPT:
                        errors.extend(row.errors[: ERRORS_KEPT - len(errors)])
            job.rows_done = done
            job.created += counts["created"]
            job.updated += counts["updated"]
            job.unchanged += counts["unchanged"]
            job.rejected += counts["rejected"]
            job.errors = errors
            job.rejected_bytes = writer.checkpoint()
            if job.rows_total is not None and done > job.rows_total:
                job.rows_total = done
            job.save(
                update_fields=[
                    "rows_done",
                    "created",
                    "updated",
                    "unchanged",
                    "rejected",
                    "errors",
                    "rejected_bytes",
                    "rows_total",
                ]
            )
            cancelled = ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists()
            return not cancelled

        try:
            run_rows(engine, table.rows, skip=job.rows_done, on_batch=on_batch)
        except Exception as exc:  # a crash: the committed batches stay, the job can be resumed
            _fail(job, _("The import stopped: %(e)s") % {"e": exc})
            raise
        finally:
            writer.close()
    except UnicodeDecodeError as exc:
        return _fail(job, _("The file is not in the %(enc)s encoding (%(e)s).") % {"enc": table.encoding, "e": exc})
    except ValidationFailed as exc:
        return _fail(job, "; ".join(m for ms in exc.fields.values() for m in ms) or exc.message)
    finally:
        if table.close:
            table.close()
    job.refresh_from_db()
    if job.cancel_requested:
        job.status = ImportJob.Status.CANCELLED
    else:
        job.status = ImportJob.Status.DONE
        job.rows_total = job.rows_done
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at", "rows_total"])
    if not job.dry_run:
        audit_record(
            actor=actor,
            instance=job,
            action=AuditEvent.Action.OTHER,
            verb="import",
            extra={"kind": job.kind, "file": job.original_name, **job.counts, "status": job.status},
        )
    return job


def _fail(job: ImportJob, message: str) -> ImportJob:
    job.status = ImportJob.Status.FAILED
    job.message = message[:1000]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "message", "finished_at"])
    return job


def import_result(job: ImportJob) -> dict[str, Any]:
    return {**job.counts, "rejected_file": job.rejected_path if job.rejected else "", "status": job.status}


def saved_mapping_save(*, actor, kind: str, name: str, mapping: Any) -> SavedMapping:
    data = load_mapping(mapping)
    get_kind(kind)
    obj, _created = SavedMapping.objects.update_or_create(
        owner=actor, kind=kind, name=name[:100], defaults={"mapping": data}
    )
    return obj


# --- export -----------------------------------------------------------------------------------------


def export_job_create(*, actor, kind: str, params: dict | None = None, file_format: str = "csv") -> ImportJob:
    """Export the user's visible records of `kind` (or "all"); small sets inline, large ones as a task."""
    if kind != "all":
        get_kind(kind)
    if file_format not in ("csv", "xlsx"):
        raise ValidationFailed(fields={"format": [_("Choose csv or xlsx.")]})
    job = ImportJob.objects.create(
        owner=actor,
        direction=ImportJob.Direction.EXPORT,
        kind=kind,
        file_format="zip" if kind == "all" else file_format,
        mapping={"filters": params or {}},
        status=ImportJob.Status.QUEUED,
    )
    small = False
    if kind != "all":
        from keyfit.imports.exporting import filtered

        small = not filtered(get_kind(kind), actor, params or {})[INLINE_EXPORT_ROWS : INLINE_EXPORT_ROWS + 1].exists()
    if small:
        export_job_run(job_id=job.pk)
    else:
        from keyfit.imports.tasks import run_export_job

        transaction.on_commit(lambda: run_export_job.enqueue(job.pk))
    job.refresh_from_db()
    return job


def export_job_run(*, job_id: int) -> ImportJob:
    from keyfit.imports.exporting import export_all, export_kind, filtered

    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    job.status = ImportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    path = storage_dir() / f"{job.pk}-export-{uuid.uuid4().hex[:8]}.{job.file_format}"
    if job.kind == "all":
        counts = export_all(job.owner, path)
        rows = sum(counts.values())
    else:
        k = get_kind(job.kind)
        rows = export_kind(
            k, filtered(k, job.owner, job.mapping.get("filters") or {}), path, file_format=job.file_format
        )
    job.result_path = str(path)
    job.rows_done = job.rows_total = rows
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["result_path", "rows_done", "rows_total", "status", "finished_at"])
    return job
