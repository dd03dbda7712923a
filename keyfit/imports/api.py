"""POST /api/v1/imports (multipart upload), then poll GET /api/v1/imports/{id}; exports likewise."""

import datetime
import os

from django.http import FileResponse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from keyfit.core.api_utils import ErrorOut, PageOut, actor, api_page
from keyfit.core.errors import NotFound, ValidationFailed
from keyfit.imports import selectors, services
from keyfit.imports.kinds import available_kinds
from keyfit.imports.mapping import PRESETS, auto_mapping, preset_mapping
from keyfit.imports.models import ImportJob

router = Router(tags=["Import and export"])

MAX_UPLOAD = 512 * 1024 * 1024


class JobOut(Schema):
    id: int
    direction: str
    kind: str
    status: str
    dry_run: bool
    file_name: str
    encoding: str
    rows: int
    rows_total: int | None
    created: int
    updated: int
    unchanged: int
    rejected: int
    percent: int
    rate: float
    seconds_left: int | None
    errors: list[str]
    message: str
    rejected_file_url: str | None
    result_url: str | None
    created_at: datetime.datetime
    finished_at: datetime.datetime | None


def job_out(job: ImportJob) -> dict:
    return {
        "id": job.pk,
        "direction": job.direction,
        "kind": job.kind,
        "status": job.status,
        "dry_run": job.dry_run,
        "file_name": job.original_name,
        "encoding": job.encoding,
        "rows": job.rows_done,
        "rows_total": job.rows_total,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "percent": job.percent,
        "rate": round(job.rate, 1),
        "seconds_left": job.seconds_left,
        "errors": job.errors or [],
        "message": job.message,
        "rejected_file_url": f"/api/v1/imports/{job.pk}/rejected" if job.rejected and job.rejected_path else None,
        "result_url": f"/api/v1/exports/{job.pk}/file" if job.result_path else None,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


class ColumnsOut(Schema):
    header: list[str]
    samples: list[list[str]]
    suggested_mapping: dict


class KindOut(Schema):
    name: str
    label: str
    fields: list[str]
    presets: list[str]


class ExportIn(Schema):
    kind: str
    format: str = "csv"
    filters: dict[str, str] = {}


@router.get("/imports/kinds", response=list[KindOut])
def kinds(request):
    return [
        {
            "name": k.name,
            "label": str(k.label),
            "fields": [*k.importable_fields(), *k.special_fields()],
            "presets": [p for p, kinds in PRESETS.items() if k.name in kinds],
        }
        for k in available_kinds()
    ]


@router.get("/imports/presets/{preset}/{kind}", response={200: dict, 422: ErrorOut})
def preset(request, preset: str, kind: str):
    return preset_mapping(preset, kind)


@router.post("/imports", response={201: JobOut, 403: ErrorOut, 422: ErrorOut})
def import_create(
    request,
    file: File[UploadedFile],
    kind: Form[str],
    mapping: Form[str] = "",
    preset: Form[str] = "",
    dry_run: Form[bool] = False,
    encoding: Form[str] = "",
):
    """Upload a file with its kind and mapping (JSON); the import starts at once (small files finish inline)."""
    if file.size and file.size > MAX_UPLOAD:
        raise ValidationFailed(fields={"file": ["The file is too large."]})
    user = actor(request)
    data = mapping or (preset_mapping(preset, kind) if preset else None)
    job = services.import_job_create(
        actor=user,
        kind=kind,
        upload=file,
        original_name=file.name or "upload.csv",
        mapping=data,
        dry_run=dry_run,
        encoding=encoding,
    )
    job = services.import_job_start(actor=user, job=job)
    return Status(201, job_out(job))


@router.get("/imports", response=PageOut[JobOut])
def import_list(request, cursor: str | None = None, limit: int | None = None):
    page = api_page(
        selectors.import_jobs_list(user=actor(request)), order=("-created_at", "-id"), cursor=cursor, limit=limit
    )
    page["items"] = [job_out(j) for j in page["items"]]
    return page


@router.get("/imports/{job_id}", response={200: JobOut, 404: ErrorOut})
def import_detail(request, job_id: int):
    return job_out(selectors.import_job_get(user=actor(request), job_id=job_id))


@router.get("/imports/{job_id}/columns", response={200: ColumnsOut, 404: ErrorOut})
def import_columns(request, job_id: int):
    job = selectors.import_job_get(user=actor(request), job_id=job_id)
    if job.direction != ImportJob.Direction.IMPORT:
        raise NotFound()
    from keyfit.imports.kinds import get_kind

    header, samples = services.job_columns(job)
    return {"header": header, "samples": samples, "suggested_mapping": auto_mapping(get_kind(job.kind), header)}


@router.get("/imports/{job_id}/rejected", response={404: ErrorOut})
def import_rejected(request, job_id: int):
    job = selectors.import_job_get(user=actor(request), job_id=job_id)
    if not job.rejected_path or not os.path.exists(job.rejected_path):
        raise NotFound()
    return FileResponse(
        open(job.rejected_path, "rb"),
        as_attachment=True,
        filename=f"rejected-{job.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )


@router.post("/imports/{job_id}/cancel", response={200: JobOut, 404: ErrorOut})
def import_cancel(request, job_id: int):
    job = selectors.import_job_get(user=actor(request), job_id=job_id)
    return job_out(services.import_job_cancel(actor=actor(request), job=job))


@router.post("/imports/{job_id}/resume", response={200: JobOut, 404: ErrorOut, 422: ErrorOut})
def import_resume(request, job_id: int):
    job = selectors.import_job_get(user=actor(request), job_id=job_id)
    return job_out(services.import_job_resume(actor=actor(request), job=job))


@router.post("/exports", response={201: JobOut, 422: ErrorOut})
def export_create(request, payload: ExportIn):
    job = services.export_job_create(
        actor=actor(request), kind=payload.kind, params=payload.filters, file_format=payload.format
    )
    return Status(201, job_out(job))


@router.get("/exports/{job_id}", response={200: JobOut, 404: ErrorOut})
def export_detail(request, job_id: int):
    return job_out(selectors.import_job_get(user=actor(request), job_id=job_id))


@router.get("/exports/{job_id}/file", response={404: ErrorOut})
def export_file(request, job_id: int):
    job = selectors.import_job_get(user=actor(request), job_id=job_id)
    if not job.result_path or not os.path.exists(job.result_path):
        raise NotFound()
    return FileResponse(
        open(job.result_path, "rb"),
        as_attachment=True,
        filename=f"{job.kind}-{job.pk}.{job.file_format}",
    )
