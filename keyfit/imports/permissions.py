"""Import and export jobs are private: a user sees their own jobs, an admin every job (404 otherwise)."""

from keyfit.core.permissions import is_admin
from keyfit.imports.models import ImportJob


def visible_import_jobs(user):
    if is_admin(user):
        return ImportJob.objects.all()
    return ImportJob.objects.filter(owner=user)
