from keyfit.core.errors import NotFound
from keyfit.imports.models import ImportJob, SavedMapping
from keyfit.imports.permissions import visible_import_jobs


def import_job_get(*, user, job_id: int) -> ImportJob:
    job = visible_import_jobs(user).filter(pk=job_id).select_related("owner").first()
    if job is None:
        raise NotFound()
    return job


def import_jobs_list(*, user):
    return visible_import_jobs(user).select_related("owner").order_by("-created_at", "-id")


def saved_mappings(*, user, kind: str | None = None):
    qs = SavedMapping.objects.filter(owner=user)
    return qs.filter(kind=kind) if kind else qs
