"""Reads of import jobs that check the staff user's reach.

An import job, its uploaded file and its reject file belong to the user who made it;
national admins reach every job. Nobody else does, not even an organiser of the same or
a parent area: the uploaded file holds every row as it was given, including rows about
people outside the uploader's area that the import rejected, so the file can reach
further than the importer's scope.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from clarion.people.models import ImportJob


def import_jobs_for(user) -> QuerySet[ImportJob]:
    """The jobs ``user`` may see: all for an admin, their own for anyone else."""
    jobs = ImportJob.objects.select_related("created_by")
    if not (user.is_authenticated and user.is_active):
        return jobs.none()
    return jobs if user.is_admin else jobs.filter(created_by=user)


def access_import_job(user, pk) -> ImportJob:
    """The job ``pk`` if ``user`` may reach it; Http404 otherwise (out of reach and
    missing look the same)."""
    job = import_jobs_for(user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job
