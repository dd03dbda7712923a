from django.tasks import task


@task()
def run_import_job(job_id: int) -> None:
    from keyfit.imports.services import import_job_run

    import_job_run(job_id=job_id)


@task()
def run_export_job(job_id: int) -> None:
    from keyfit.imports.services import export_job_run

    export_job_run(job_id=job_id)
