import json
import os

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keyfit.core.errors import DomainError, NotFound
from keyfit.imports import selectors, services
from keyfit.imports.forms import UploadForm
from keyfit.imports.kinds import get_kind
from keyfit.imports.mapping import auto_mapping, preset_mapping
from keyfit.imports.models import ImportJob, SavedMapping


def _job(request, job_id: int) -> ImportJob:
    try:
        return selectors.import_job_get(user=request.user, job_id=job_id)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def index(request):
    saved = list(selectors.saved_mappings(user=request.user))
    form = UploadForm(request.POST or None, request.FILES or None, saved=saved)
    if request.method == "POST" and form.is_valid():
        choice = form.cleaned_data["preset"] or ""
        mapping = None
        if choice.startswith("preset:"):
            try:
                mapping = preset_mapping(choice[7:], form.cleaned_data["kind"])
            except DomainError:
                mapping = None
        elif choice.startswith("saved:"):
            found = SavedMapping.objects.filter(owner=request.user, pk=choice[6:]).first()
            mapping = found.mapping if found else None
        try:
            job = services.import_job_create(
                actor=request.user,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                mapping=mapping,
                encoding=form.cleaned_data["encoding"],
            )
        except DomainError as exc:
            for key, msgs in exc.fields.items():
                for msg in msgs:
                    form.add_error(key if key in form.fields else None, msg)
            if not exc.fields:
                form.add_error(None, exc.message)
        else:
            return redirect("imports:map", job_id=job.pk)
    jobs = selectors.import_jobs_list(user=request.user)[:50]
    from keyfit.imports.kinds import available_kinds

    return render(request, "imports/index.html", {"form": form, "jobs": jobs, "export_kinds": available_kinds()})


def _field_choices(kind):
    from keyfit.core.customfields import custom_field_definitions

    choices = [("", _("— ignore —"))]
    for name, f in kind.importable_fields().items():
        choices.append((name, f"{f.verbose_name} ({name})"))
    labels = {
        "owner_email": _("owner (by e-mail)"),
        "account_external_id": _("account (by external id)"),
        "account_name": _("account (by name)"),
    }
    for name in kind.special_fields():
        choices.append((name, labels.get(name, name)))
    if kind.custom_target:
        for d in custom_field_definitions(kind.custom_target):
            choices.append((f"custom.{d.key}", _("custom field: %(label)s") % {"label": d.label}))
    return choices


def _spec_field(spec):
    if isinstance(spec, dict):
        return spec.get("field") or ""
    return spec or ""


@login_required
def map_columns(request, job_id: int):
    job = _job(request, job_id)
    kind = get_kind(job.kind)
    header, samples = services.job_columns(job)
    base = job.mapping or auto_mapping(kind, header)
    columns_spec = dict(base.get("columns") or {})
    error = None
    if request.method == "POST":
        try:
            extra = json.loads(request.POST.get("options") or "{}")
            if not isinstance(extra, dict):
                raise ValueError
        except ValueError:
            extra, error = None, _("The options are not a valid JSON object.")
        if extra is not None:
            mapping = {k: v for k, v in extra.items() if k != "columns"}
            given = extra.get("columns") or {}
            columns = {}
            for index, column in enumerate(header):
                chosen = request.POST.get(f"col_{index}", "")
                previous = given.get(column, columns_spec.get(column))
                if chosen and _spec_field(previous) == chosen and isinstance(previous, dict):
                    columns[column] = previous
                else:
                    columns[column] = chosen or None
            mapping["columns"] = columns
            mapping.setdefault("kind", job.kind)
            mapping.pop("lenient", None)
            dry_run = request.POST.get("action") == "dry_run"
            try:
                services.import_job_set_mapping(actor=request.user, job=job, mapping=mapping, dry_run=dry_run)
                if request.POST.get("save_as"):
                    services.saved_mapping_save(
                        actor=request.user, kind=job.kind, name=request.POST["save_as"], mapping=mapping
                    )
                job.status = ImportJob.Status.MAPPING
                job.save(update_fields=["status"])
                services.import_job_start(actor=request.user, job=job)
                return redirect("imports:detail", job_id=job.pk)
            except DomainError as exc:
                error = "; ".join(f"{k}: {m}" for k, ms in exc.fields.items() for m in ms) or exc.message
            columns_spec = columns
            base = mapping
    choices = _field_choices(kind)
    rows = []
    for index, column in enumerate(header):
        rows.append(
            {
                "index": index,
                "column": column,
                "samples": [s[index] for s in samples if index < len(s) and s[index]][:3],
                "selected": _spec_field(columns_spec.get(column)),
            }
        )
    options = {k: v for k, v in base.items() if k not in ("columns", "lenient")}
    value_maps = {c: s for c, s in columns_spec.items() if isinstance(s, dict) and len(s) > 1}
    if value_maps:
        options["columns"] = value_maps
    return render(
        request,
        "imports/map.html",
        {
            "job": job,
            "rows": rows,
            "choices": choices,
            "options": json.dumps(options, ensure_ascii=False, indent=2),
            "error": error,
        },
    )


@login_required
def detail(request, job_id: int):
    job = _job(request, job_id)
    template = "imports/_status.html" if request.htmx else "imports/detail.html"
    return render(request, template, {"job": job})


@login_required
@require_POST
def cancel(request, job_id: int):
    job = _job(request, job_id)
    services.import_job_cancel(actor=request.user, job=job)
    return redirect("imports:detail", job_id=job.pk)


@login_required
@require_POST
def resume(request, job_id: int):
    job = _job(request, job_id)
    try:
        services.import_job_resume(actor=request.user, job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("imports:detail", job_id=job.pk)


@login_required
@require_POST
def run_for_real(request, job_id: int):
    """After a dry run: the same file and mapping, now writing."""
    job = _job(request, job_id)
    if not job.dry_run or job.status != ImportJob.Status.DONE:
        return redirect("imports:detail", job_id=job.pk)
    new = ImportJob.objects.create(
        owner=job.owner,
        kind=job.kind,
        original_name=job.original_name,
        file_path=job.file_path,
        file_format=job.file_format,
        encoding=job.encoding,
        mapping=job.mapping,
        rows_total=job.rows_total,
    )
    try:
        services.import_job_start(actor=request.user, job=new)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("imports:detail", job_id=new.pk)


@login_required
def rejected_file(request, job_id: int):
    job = _job(request, job_id)
    if not job.rejected_path or not os.path.exists(job.rejected_path):
        raise Http404
    return FileResponse(open(job.rejected_path, "rb"), as_attachment=True, filename=f"rejected-{job.pk}.csv")


@login_required
def result_file(request, job_id: int):
    job = _job(request, job_id)
    if not job.result_path or not os.path.exists(job.result_path):
        raise Http404
    return FileResponse(
        open(job.result_path, "rb"),
        as_attachment=True,
        filename=f"{job.kind}-{job.pk}.{job.file_format}",
    )


@login_required
def export(request, kind: str):
    """Export a list with the filters of its page (?field=value…), or everything with kind=all."""
    params = {k: v for k, v in request.GET.items() if k not in ("format",)}
    try:
        job = services.export_job_create(
            actor=request.user, kind=kind, params=params, file_format=request.GET.get("format", "csv")
        )
    except DomainError as exc:
        raise Http404 from exc
    if job.status == ImportJob.Status.DONE:
        return redirect("imports:result", job_id=job.pk)
    return redirect("imports:detail", job_id=job.pk)
