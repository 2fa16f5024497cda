"""Staff pages for CSV import and export. Thin: forms validate, services do the work.

Jobs are reachable by the user who made them and by national admins only
(``selectors.access_import_job``). People are reached only through
``clarion.people.selectors`` (the import service applies the importer's area scope; the
export reads ``people_for``). A job's files are private: they are served only here,
after the reach check, never cached, and each download is audited."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from clarion.people.models import CustomField, ImportJob
from clarion.people.selectors import access_segment, segments_for

from .export import SegmentsUnavailable, people_export_stream
from .files import REJECTS, UPLOAD, PrivateFileMissing, import_file_open
from .forms import ExportForm, MappingForm, UploadForm
from .selectors import access_import_job, import_jobs_for
from .services import (
    import_job_claim,
    import_job_configure,
    import_job_create,
    import_job_enqueue,
    import_job_run,
)


@login_required
def import_list(request):
    return render(request, "people/import_list.html", {"jobs": import_jobs_for(request.user)[:200]})


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request):
    if not request.user.can_write:
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_job_create(actor=request.user, uploaded=upload, original_name=upload.name)
        except (ValueError, UnicodeError) as exc:
            form.add_error(
                "file",
                str(exc) if isinstance(exc, ValueError) else _("The file could not be read."),
            )
        else:
            return redirect("people:import_detail", pk=job.pk)
    return render(request, "people/import_upload.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request, pk: int):
    job = access_import_job(request.user, pk)
    if job.status != ImportJob.Status.MAPPING:
        return render(
            request,
            "people/import_result.html",
            {
                "job": job,
                "running": _running(job),
                "retention_days": settings.CLARION_PRIVATE_FILE_RETENTION_DAYS,
            },
        )
    if not request.user.can_write:
        raise PermissionDenied
    custom = list(CustomField.objects.all())
    form = MappingForm(
        request.POST or None,
        headers=job.mapping.get("headers", []),
        columns=job.mapping.get("columns", []),
        custom_fields=custom,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        import_job_configure(
            job=job,
            columns=data["columns"],
            tags=data["tag_list"],
            lists=data["list_list"],
            dry_run=data["dry_run"],
        )
        if job.file.size <= settings.IMPORT_INLINE_MAX_BYTES:
            claimed = import_job_claim(job_id=job.pk)
            if claimed is not None:
                import_job_run(job=claimed)
        else:
            import_job_enqueue(job=job)
            messages.info(request, _("The file is large, so it is importing in the background."))
        return redirect("people:import_detail", pk=job.pk)
    return render(request, "people/import_mapping.html", {"job": job, "form": form})


def _running(job: ImportJob) -> bool:
    return job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)


@login_required
def import_progress(request, pk: int):
    job = access_import_job(request.user, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "processed": job.processed_rows,
            "total": max(job.total_rows, job.processed_rows),
            "created": job.created_count,
            "updated": job.updated_count,
            "unchanged": job.unchanged_count,
            "rejected": job.rejected_count,
            "running": _running(job),
        }
    )


@login_required
@require_http_methods(["GET"])
def import_rejects(request, pk: int):
    return _private_file_response(request, pk, REJECTS)


@login_required
@require_http_methods(["GET"])
def import_file(request, pk: int):
    """The file as it was uploaded."""
    return _private_file_response(request, pk, UPLOAD)


def _private_file_response(request, pk: int, kind: str) -> FileResponse:
    job = access_import_job(request.user, pk)
    try:
        handle, filename = import_file_open(actor=request.user, job=job, kind=kind, request=request)
    except PrivateFileMissing:
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type="text/csv; charset=utf-8"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def people_export(request):
    """GET without ``download`` shows the form; with it, streams the CSV."""
    segments = segments_for(request.user)
    form = ExportForm(request.GET if "download" in request.GET else None, segments=segments)
    if "download" in request.GET and form.is_valid():
        segment_id = form.cleaned_data.get("segment")
        segment = access_segment(request.user, segment_id) if segment_id else None
        try:
            lines = people_export_stream(user=request.user, segment=segment, request=request)
        except SegmentsUnavailable as exc:
            form.add_error("segment", str(exc))
        else:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="people-{stamp}.csv"'
            return response
    return render(request, "people/import_export.html", {"form": form})
