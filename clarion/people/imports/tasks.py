"""Background work for imports. Tasks take ids and are safe to run twice."""

from __future__ import annotations

from django_tasks import task

from .retention import private_files_purge
from .services import import_job_claim, import_job_run


@task()
def import_job_task(job_id: int) -> str:
    """Run import ``job_id``. A job already running or finished is left alone, so a
    task delivered twice (a retried RQ job, two workers) imports once."""
    job = import_job_claim(job_id=job_id)
    if job is None:
        return "skipped"
    job = import_job_run(job=job)
    return job.status


@task()
def private_files_purge_task() -> int:
    """Delete import files past their retention period (daily; safe to run twice)."""
    return private_files_purge()
