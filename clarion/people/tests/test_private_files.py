"""Import files and reject files are private: no /media/ URL serves them, only the
download views do, to the importer and national admins, audited and never cached.
Old installs' files move out of MEDIA_ROOT, and every such file is deleted after the
retention period."""

from __future__ import annotations

import datetime
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clarion.core import schedule
from clarion.core.models import AuditEntry
from clarion.core.storage import private_storage
from clarion.people.imports.retention import private_files_purge
from clarion.people.models import ImportJob

PROJECT = Path(__file__).resolve().parents[3]
MARKER = "wilhelmina.zzprivate@example.net"
# A North postcode, so a North organiser's import creates Wilhelmina and rejects one row.
CSV = f"First name,Email,Postcode\nWilhelmina,{MARKER},LS1 4AP\nBad,not-an-email,\n"
DEMO_URLCONF = "clarion_demo_urls_for_tests"


def upload_and_run(client, *, name="Ward 5 members.csv", text=CSV) -> ImportJob:
    """Upload through the import pages and run the import, as staff do."""
    response = client.post(
        reverse("people:import_upload"), {"file": SimpleUploadedFile(name, text.encode())}
    )
    assert response.status_code == 302, response.content
    job = ImportJob.objects.latest("pk")
    response = client.post(
        reverse("people:import_detail", args=[job.pk]),
        {"col_0": "first_name", "col_1": "email", "col_2": "postcode"},
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.file and job.rejects
    return job


def content_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def demo_urls(settings, media_root):
    """The project's real URLconf as a demo install loads it (with the media route)."""
    settings.DEMO = True
    spec = importlib.util.find_spec("clarion.urls")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[DEMO_URLCONF] = module
    settings.ROOT_URLCONF = DEMO_URLCONF
    yield module
    del sys.modules[DEMO_URLCONF]


@pytest.fixture
def organiser_job(client, organiser):
    client.force_login(organiser)
    job = upload_and_run(client)
    client.logout()
    return job


# --- nothing under /media/ ----------------------------------------------------------


def test_no_media_url_returns_an_import_or_reject_file(demo_urls, organiser_job, admin, tmp_path):
    job = organiser_job
    private_root = Path(private_storage().path(""))
    assert Path(job.file.path).is_relative_to(private_root)
    assert Path(job.rejects.path).is_relative_to(private_root)
    assert MARKER.encode() in job.file.read() and b"not-an-email" in job.rejects.read()
    # Positive control: the demo route is mounted and serves public media.
    default_storage.save("actions/hero/2026/01/banner.png", ContentFile(b"\x89PNG public"))
    anonymous = Client()
    hero = anonymous.get("/media/actions/hero/2026/01/banner.png")
    assert hero.status_code == 200 and content_of(hero) == b"\x89PNG public"

    relative = os.path.relpath(private_root, demo_urls.settings.MEDIA_ROOT)
    guesses = [
        job.file.name,
        job.rejects.name,
        f"imports/{timezone.now():%Y/%m}/Ward_5_members.csv",
        f"imports/rejects/{timezone.now():%Y/%m}/rejects-{job.pk}.csv",
        f"imports/rejects/rejects-{job.pk}.csv",
        f"{relative}/{job.file.name}",
        f"{relative}/{job.rejects.name}".replace("..", "%2e%2e"),
        f"..%2f{relative}%2f{job.file.name}",
    ]
    staff = Client()
    staff.force_login(admin)
    for who in (anonymous, staff):
        for guess in guesses:
            response = who.get(f"/media/{guess}")
            assert response.status_code in (400, 404), guess
            assert MARKER.encode() not in content_of(response), guess


def test_anonymous_visitor_is_sent_to_log_in_for_the_download_views(organiser_job):
    anonymous = Client()
    for name in ("people:import_file", "people:import_rejects"):
        response = anonymous.get(reverse(name, args=[organiser_job.pk]))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("core:login"))
        assert MARKER.encode() not in content_of(response)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_password_alone_opens_public_media_but_nothing_else_under_media(
    demo_urls, client, organiser
):
    """A user who has a second factor but has only typed the password (a stolen
    password) is sent to the code step for anything under /media/ except public media."""
    TOTPDevice.objects.create(user=organiser, name="phone", confirmed=True)
    client.force_login(organiser)
    default_storage.save("actions/hero/2026/01/banner.png", ContentFile(b"public"))
    default_storage.save("imports/2025/01/old-members.csv", ContentFile(MARKER.encode()))
    hero = client.get("/media/actions/hero/2026/01/banner.png")
    assert hero.status_code == 200
    legacy = client.get("/media/imports/2025/01/old-members.csv")
    assert legacy.status_code == 302
    assert legacy["Location"].startswith(reverse("core:two_factor_verify"))
    assert client.get(reverse("people:import_list")).status_code == 302


# --- the download views -------------------------------------------------------------


def test_importer_downloads_both_files_uncached_and_audited(client, organiser):
    client.force_login(organiser)
    job = upload_and_run(client)
    upload = client.get(reverse("people:import_file", args=[job.pk]))
    assert upload.status_code == 200
    assert content_of(upload) == CSV.encode()
    assert upload["Content-Disposition"] == 'attachment; filename="Ward 5 members.csv"'
    assert upload["Cache-Control"] == "private, no-store"
    assert upload["X-Content-Type-Options"] == "nosniff"
    assert upload["Content-Type"].startswith("text/csv")
    rejects = client.get(reverse("people:import_rejects", args=[job.pk]))
    assert b"not-an-email" in content_of(rejects)
    assert rejects["Content-Disposition"] == 'attachment; filename="Ward 5 members-rejects.csv"'
    assert rejects["Cache-Control"] == "private, no-store"
    entries = AuditEntry.objects.filter(
        action=AuditEntry.Action.EXPORT, object_type="importjob", object_id=str(job.pk)
    )
    assert sorted(e.detail["file"] for e in entries) == ["rejects", "upload"]
    assert {e.actor for e in entries} == {organiser}
    assert all("Ward 5 members.csv" in e.summary for e in entries)


def test_result_and_mapping_pages_link_to_the_downloads(client, organiser):
    client.force_login(organiser)
    client.post(
        reverse("people:import_upload"), {"file": SimpleUploadedFile("list.csv", CSV.encode())}
    )
    job = ImportJob.objects.get()
    mapping = client.get(reverse("people:import_detail", args=[job.pk])).content.decode()
    assert reverse("people:import_file", args=[job.pk]) in mapping
    job = upload_and_run(client)
    result = client.get(reverse("people:import_detail", args=[job.pk])).content.decode()
    assert reverse("people:import_file", args=[job.pk]) in result
    assert reverse("people:import_rejects", args=[job.pk]) in result
    assert "deleted 30 days after the import" in result


def test_admin_downloads_an_organisers_import(client, admin, organiser_job):
    client.force_login(admin)
    response = client.get(reverse("people:import_file", args=[organiser_job.pk]))
    assert response.status_code == 200 and MARKER.encode() in content_of(response)
    assert AuditEntry.objects.get(action=AuditEntry.Action.EXPORT).actor == admin


def test_other_staff_cannot_fetch_an_import_they_did_not_make(
    client, admin, organiser, south_organiser, analyst, organiser_job
):
    client.force_login(admin)
    admin_job = upload_and_run(client, name="national.csv")
    attempts = [
        (south_organiser, organiser_job),  # another area's organiser
        (analyst, organiser_job),
        (organiser, admin_job),  # an organiser and a national admin's import
        (south_organiser, admin_job),
    ]
    for user, job in attempts:
        client.force_login(user)
        for name in ("people:import_file", "people:import_rejects"):
            response = client.get(reverse(name, args=[job.pk]))
            assert response.status_code == 404, (user, job, name)
            assert MARKER.encode() not in content_of(response)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_unsafe_characters_in_the_uploaded_name_do_not_reach_the_header(client, organiser):
    client.force_login(organiser)
    job = upload_and_run(client)
    ImportJob.objects.filter(pk=job.pk).update(original_name='..\\Ward "7";\r\nX-Evil: 1.CSV')
    response = client.get(reverse("people:import_file", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Ward _7_X-Evil_ 1.csv"'
    assert "X-Evil" not in response.headers


def test_files_are_stored_under_random_names(client, organiser):
    client.force_login(organiser)
    first = upload_and_run(client, name="Ward 5 members.csv")
    second = upload_and_run(client, name="Ward 5 members.csv")
    for job in (first, second):
        for name in (job.file.name, job.rejects.name):
            assert "ward" not in name.lower() and "members" not in name.lower()
            assert f"rejects-{job.pk}" not in name
            assert name.endswith(".csv")
    assert first.file.name != second.file.name
    assert first.rejects.name != second.rejects.name
    assert first.original_name == "Ward 5 members.csv"


# --- retention ------------------------------------------------------------------------


def _age(job: ImportJob, days: int) -> None:
    then = timezone.now() - datetime.timedelta(days=days)
    ImportJob.objects.filter(pk=job.pk).update(
        created_at=then,
        started_at=then if job.started_at else None,
        finished_at=then if job.finished_at else None,
    )


def test_purge_deletes_old_files_keeps_new_ones_and_the_rows(client, organiser):
    client.force_login(organiser)
    old, recent = upload_and_run(client, name="old.csv"), upload_and_run(client, name="new.csv")
    old_paths = [old.file.path, old.rejects.path]
    _age(old, 31)
    _age(recent, 29)

    assert private_files_purge() == 2

    old.refresh_from_db()
    recent.refresh_from_db()
    assert not old.file and not old.rejects
    assert not any(os.path.exists(path) for path in old_paths)
    assert (old.status, old.created_count, old.rejected_count) == ("done", 1, 1)
    assert recent.file and recent.rejects
    assert os.path.exists(recent.file.path) and os.path.exists(recent.rejects.path)
    audit = AuditEntry.objects.get(action=AuditEntry.Action.DELETE, object_id=str(old.pk))
    assert sorted(audit.detail["files"]) == ["rejects", "upload"]
    # The import is still listed, with its counts, and says its files are gone.
    page = client.get(reverse("people:import_detail", args=[old.pk])).content.decode()
    assert '<strong data-field="created">1</strong>' in page
    assert 'data-field="files_deleted"' in page
    assert reverse("people:import_file", args=[old.pk]) not in page
    assert client.get(reverse("people:import_file", args=[old.pk])).status_code == 404
    assert client.get(reverse("people:import_rejects", args=[old.pk])).status_code == 404
    assert "old.csv" in client.get(reverse("people:import_list")).content.decode()
    # Running again changes nothing.
    assert private_files_purge() == 0


def test_purge_follows_the_retention_setting_and_the_given_time(client, organiser, settings):
    client.force_login(organiser)
    job = upload_and_run(client)
    settings.CLARION_PRIVATE_FILE_RETENTION_DAYS = 7
    assert private_files_purge(now=timezone.now() + datetime.timedelta(days=6)) == 0
    # (Counts any other old file left in the test run's private folder too.)
    assert private_files_purge(now=timezone.now() + datetime.timedelta(days=8)) >= 2
    job.refresh_from_db()
    assert not job.file and not job.rejects


def test_purge_of_an_import_never_run_marks_it_failed_with_a_reason(client, organiser):
    client.force_login(organiser)
    client.post(
        reverse("people:import_upload"), {"file": SimpleUploadedFile("list.csv", CSV.encode())}
    )
    job = ImportJob.objects.get()
    _age(job, 40)
    assert private_files_purge() == 1
    page = client.get(reverse("people:import_detail", args=[job.pk])).content.decode()
    assert "Failed" in page and "Upload it again" in page


def test_purge_deletes_old_files_no_import_refers_to(organiser):
    storage = private_storage()
    old = storage.save("imports/2020/01/left-behind.csv", ContentFile(MARKER.encode()))
    fresh = storage.save("imports/2020/01/just-written.csv", ContentFile(b"x"))
    long_ago = (timezone.now() - datetime.timedelta(days=60)).timestamp()
    os.utime(storage.path(old), (long_ago, long_ago))
    assert private_files_purge() == 1
    assert not storage.exists(old) and storage.exists(fresh)
    storage.delete(fresh)


def test_purge_command_reports_what_it_deleted(client, organiser, capsys):
    client.force_login(organiser)
    job = upload_and_run(client)
    _age(job, 45)
    call_command("purge_private_files")
    assert "Deleted 2 private file(s) older than 30 days." in capsys.readouterr().out


def test_the_clock_purges_private_files_daily(client, organiser):
    job = next(j for j in schedule.jobs() if j.name == "people.private_files_purge")
    assert job.every == datetime.timedelta(days=1)
    client.force_login(organiser)
    old = upload_and_run(client)
    _age(old, 31)
    job.target.call()  # what a worker does with the task the clock enqueues
    old.refresh_from_db()
    assert not old.file and not old.rejects and old.created_count == 1


# --- old installs: moving files out of MEDIA_ROOT -------------------------------------


def test_move_command_takes_old_files_out_of_public_media_once(
    demo_urls, media_root, client, admin, organiser, capsys
):
    legacy_upload = default_storage.save("imports/2025/01/ward-5.csv", ContentFile(CSV.encode()))
    legacy_rejects = default_storage.save(
        "imports/rejects/2025/01/rejects-1.csv", ContentFile(b"row,outcome\n3,rejected\n")
    )
    orphan = default_storage.save("imports/2024/12/deleted-job.csv", ContentFile(MARKER.encode()))
    job = ImportJob.objects.create(
        created_by=organiser,
        original_name="ward-5.csv",
        file=legacy_upload,
        rejects=legacy_rejects,
        status=ImportJob.Status.DONE,
    )
    anonymous = Client()
    # The demo route mounts only public prefixes, so it never served these; but they sit
    # under MEDIA_ROOT, which a production proxy serves: the move takes them out.
    assert anonymous.get(f"/media/{legacy_upload}").status_code == 404
    assert (Path(media_root) / legacy_upload).is_file()

    call_command("move_private_files")
    assert "Moved 2 import file(s) and 1 file(s) no import refers to" in capsys.readouterr().out

    for name in (legacy_upload, legacy_rejects, orphan):
        assert anonymous.get(f"/media/{name}").status_code == 404
    assert not [p for p in Path(media_root).rglob("*") if p.is_file()]
    job.refresh_from_db()
    assert "ward" not in job.file.name and "rejects-1" not in job.rejects.name
    assert private_storage().exists(job.file.name)
    client.force_login(admin)
    response = client.get(reverse("people:import_file", args=[job.pk]))
    assert content_of(response) == CSV.encode()
    assert response["Content-Disposition"] == 'attachment; filename="ward-5.csv"'
    moved = AuditEntry.objects.get(action=AuditEntry.Action.OTHER, object_type="importjob")
    assert moved.detail == {"moved": 2, "unreferenced": 1}

    names = (job.file.name, job.rejects.name)
    call_command("move_private_files")
    assert "Moved 0 import file(s) and 0 file(s)" in capsys.readouterr().out
    job.refresh_from_db()
    assert (job.file.name, job.rejects.name) == names
    assert AuditEntry.objects.filter(action=AuditEntry.Action.OTHER).count() == 1


# --- settings -------------------------------------------------------------------------


def _import_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import clarion.settings"],
        cwd=PROJECT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "CLARION_VAR_DIR": str(tmp_path),
            "CLARION_SECRET_KEY": "settings-test",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bad_retention_period_stops_start_up_with_a_clear_message(tmp_path):
    result = _import_settings(tmp_path, CLARION_PRIVATE_FILE_RETENTION_DAYS="a month")
    assert result.returncode != 0
    assert "CLARION_PRIVATE_FILE_RETENTION_DAYS must be a whole number of days" in result.stderr


def test_private_root_inside_media_root_stops_start_up(tmp_path):
    result = _import_settings(tmp_path, CLARION_PRIVATE_ROOT=str(tmp_path / "media" / "private"))
    assert result.returncode != 0
    assert "CLARION_PRIVATE_ROOT" in result.stderr and "served to anyone" in result.stderr
