"""The public form's intake: one committed row answers the supporter, the workers do
the rest. Every test here leaves the rows to the workers (``intake_async``), as
production does."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clarion.actions import services
from clarion.actions.models import Submission
from clarion.actions.selectors import page_count, page_count_fresh
from clarion.core.privacy import export_person
from clarion.core.testing import factories
from clarion.core.testing.redis import commands_sent
from clarion.people.models import Activity, Person, Suppression
from clarion.people.normalise import email_hash
from clarion.people.services import person_erase

from .conftest import make_page
from .test_submit import sign

pytestmark = pytest.mark.usefixtures("intake_async")


def test_the_answer_comes_before_the_work_and_counts_at_once(client, areas):
    page = make_page()
    assert page_count(page) == 0  # cached
    response = sign(client, page, email="new@example.net")
    assert response.status_code == 302
    row = Submission.objects.get(page=page)
    assert row.in_intake and row.person is None
    assert page_count(page) == 1 and page_count_fresh(page) == 1
    assert client.get(reverse("actions:count", kwargs={"slug": page.slug})).json()["count"] == 1
    assert not Person.objects.filter(email="new@example.net").exists()
    # The thank-you page answers before processing, already with the personal share
    # link the person will own, but nothing stored about anyone (no recruits yet).
    code = row.intake["share_code"]
    thanks = client.get(response["Location"]).content.decode()
    assert "Thank you!" in thanks and "brought in" not in thanks
    assert f"ref%3D{code}" in thanks or f"ref={code}" in thanks
    assert services.submissions_process() == 1
    person = Person.objects.get(email="new@example.net")
    assert person.share_code == code
    # Once processed, the page shows the person it created their share link.
    thanks = client.get(response["Location"]).content.decode()
    assert "brought in" in thanks and person.share_code in thanks


def _share_ref(html: str) -> str:
    """The ``ref`` code in a thank-you page's share URL ("" when the link has none)."""
    import re

    found = re.search(r"[?&]ref=([A-Za-z0-9_-]+)", html.replace("&amp;", "&"))
    return found.group(1) if found else ""


def test_a_link_shared_before_processing_credits_its_sharer(client, areas):
    """A new signer shares the link straight from the thank-you page and a friend signs
    through it, both before any worker has run: the friend is credited to the signer."""
    page = make_page()
    first = sign(client, page, email="sharer@example.net", first_name="Sam")
    code = _share_ref(client.get(first["Location"]).content.decode())
    assert code
    sign(client, page, email="friend@example.net", ref=code)
    assert services.submissions_process() == 2
    sharer = Person.objects.get(email="sharer@example.net")
    friend = Person.objects.get(email="friend@example.net")
    assert sharer.share_code == code
    assert friend.recruiter == sharer
    assert Submission.objects.get(person=friend).recruiter == sharer


def test_a_code_promised_to_an_existing_persons_mailbox_credits_nobody(client, areas):
    """Typing somebody's known address shows a share code before processing (nothing
    is known yet), but that code is never given to them: a link carrying it credits
    nobody, shows no name, and their own code stays theirs."""
    victim = factories.person(email="vic2@example.net", first_name="Victoria")
    own_code = victim.share_code
    page = make_page()
    response = sign(client, page, email="vic2@example.net", first_name="Mallory")
    code = _share_ref(client.get(response["Location"]).content.decode())
    assert code and code != own_code
    services.submissions_process()
    victim.refresh_from_db()
    assert victim.share_code == own_code
    assert not Person.objects.filter(share_code=code).exists()
    # After processing the page shows no personal code at all.
    assert _share_ref(client.get(response["Location"]).content.decode()) == ""
    landing = client.get(reverse("actions:page", kwargs={"slug": page.slug}) + f"?ref={code}")
    assert "Victoria" not in landing.content.decode()
    sign(client, page, email="stranger@example.net", ref=code)
    services.submissions_process()
    assert Person.objects.get(email="stranger@example.net").recruiter is None


def test_a_promised_code_someone_already_holds_gives_the_new_person_another(client, areas):
    holder = factories.person(email="holder@example.net")
    page = make_page()
    sign(client, page, email="newcomer@example.net")
    row = Submission.objects.get(page=page)
    Submission.objects.filter(pk=row.pk).update(
        intake={**row.intake, "share_code": holder.share_code}
    )
    assert services.submissions_process() == 1
    newcomer = Person.objects.get(email="newcomer@example.net")
    assert newcomer.share_code and newcomer.share_code != holder.share_code
    row.refresh_from_db()
    assert row.processed_at is not None and row.person == newcomer and row.person_created


def test_a_duplicate_is_refused_at_once_processed_or_not(client, areas):
    page = make_page()
    sign(client, page, email="twice@example.net")
    again = sign(client, page, email="Twice@Example.net", first_name="Other")
    assert again.status_code == 302 and "again=1" in again["Location"]
    assert Submission.objects.filter(page=page).count() == 1
    services.submissions_process()
    third = sign(client, page, email="twice@example.net")
    assert "again=1" in third["Location"]
    assert Submission.objects.filter(page=page).count() == 1
    assert page_count_fresh(page) == 1


def test_an_existing_persons_thank_you_shows_nothing_of_theirs(client, areas):
    victim = factories.person(email="vic@example.net", first_name="Vic")
    page = make_page()
    response = sign(client, page, email="vic@example.net", first_name="Mallory")
    services.submissions_process()
    row = Submission.objects.get(page=page)
    assert row.person == victim and not row.person_created
    victim.refresh_from_db()
    assert victim.first_name == "Vic"  # invariant 8
    thanks = client.get(response["Location"]).content.decode()
    assert "brought in" not in thanks and victim.share_code not in thanks


def test_bad_details_are_refused_before_the_row_is_written(client, areas):
    page = make_page()
    response = sign(client, page, email="pc@example.net", postcode="NOT A POSTCODE 123")
    assert response.status_code == 400
    assert not Submission.objects.exists()


def test_erasure_takes_rows_still_in_intake_with_it(client, areas, admin):
    person = factories.person(email="gone@example.net")
    page = make_page()
    sign(client, page, email="Gone@example.net")
    assert Submission.objects.get(page=page).in_intake
    exported = export_person(person)["actions"]["submissions"]
    assert [s["page_slug"] for s in exported] == [page.slug]  # subject access sees it
    person_erase(person=person, actor=admin)
    assert not Submission.objects.filter(page=page).exists()
    assert services.submissions_process() == 0
    assert not Person.objects.filter(email="gone@example.net").exists()


def test_a_row_the_erasure_could_not_take_is_dropped_by_the_worker(client, areas):
    page = make_page()
    sign(client, page, email="late@example.net")
    # An erasure that ran while a worker held the row (it skips locked rows) leaves
    # only its suppression row behind; the worker must not make the person again.
    Suppression.objects.create(email_hash=email_hash("late@example.net"), reason="erased")
    assert services.submissions_process() == 1
    assert not Submission.objects.filter(page=page).exists()
    assert not Person.objects.filter(email="late@example.net").exists()


def test_an_erasure_older_than_the_signature_does_not_drop_it(client, areas):
    old = Suppression.objects.create(email_hash=email_hash("back@example.net"), reason="erased")
    Suppression.objects.filter(pk=old.pk).update(created_at=old.created_at.replace(year=2020))
    page = make_page()
    sign(client, page, email="back@example.net")
    services.submissions_process()
    assert Submission.objects.get(page=page).person.email == "back@example.net"


def test_a_row_that_fails_stays_in_intake_and_the_batch_goes_on(client, areas, monkeypatch):
    page = make_page()
    sign(client, page, email="one@example.net")
    sign(client, page, email="two@example.net")
    first = Submission.objects.get(email_canonical="one@example.net")
    real = services._intake_process

    def flaky(row):
        if row.pk == first.pk:
            raise RuntimeError("boom")
        real(row)

    monkeypatch.setattr(services, "_intake_process", flaky)
    assert services.submissions_process() == 2
    first.refresh_from_db()
    assert first.in_intake and first.person is None and first.intake["email"]
    assert not Person.objects.filter(email="one@example.net").exists()
    assert Person.objects.filter(email="two@example.net").exists()
    monkeypatch.setattr(services, "_intake_process", real)
    assert services.submissions_process() == 0  # it waits out its back-off first
    Submission.objects.filter(pk=first.pk).update(intake={**first.intake, "retry_at": 0})
    assert services.submissions_process() == 1
    assert Activity.objects.filter(kind=Activity.Kind.ACTION).count() == 2


def test_the_recruiters_share_code_is_resolved_by_the_worker(client, areas):
    ada = factories.person(email="ada@example.net")
    page = make_page()
    sign(client, page, email="grace@example.net", ref=ada.share_code)
    row = Submission.objects.get(page=page)
    assert row.recruiter is None and row.intake["recruiter_code"] == ada.share_code
    services.submissions_process()
    row.refresh_from_db()
    assert row.recruiter == ada and row.person.recruiter == ada


def test_the_api_sees_a_signature_once_it_is_processed(client, areas, admin):
    from types import SimpleNamespace

    from clarion.actions.selectors import api_submissions

    national_key = SimpleNamespace(owner=admin, area_id=None, area=None)
    page = make_page()
    sign(client, page, email="api@example.net")
    assert not api_submissions(national_key, page=page).exists()  # no person yet
    services.submissions_process()
    assert api_submissions(national_key, page=page).count() == 1


def test_a_burst_queues_one_processing_task_and_the_clock_collects_leftovers(
    client, areas, django_capture_on_commit_callbacks
):
    from django.core.cache import cache
    from django_tasks_db.models import DBTaskResult

    from clarion.actions.tasks import submissions_intake_process
    from clarion.core import schedule

    page = make_page()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            sign(client, page, email=f"burst{n}@example.net")
    queued = DBTaskResult.objects.filter(task_path=submissions_intake_process.module_path)
    assert queued.count() == 1  # one task for the burst, not one per signature
    job = {j.name: j for j in schedule.jobs()}["actions.intake"]
    assert job.target is submissions_intake_process
    # The task was lost (say Redis went away before a worker saw it): the clock's
    # run processes everything still in intake, and clears the mark for new kicks.
    queued.delete()
    assert submissions_intake_process.call() == 3
    assert not Submission.objects.filter(processed_at=None).exists()
    assert cache.get(services.INTAKE_KICK_KEY) is None


def test_a_run_out_of_time_queues_the_next_one(client, areas):
    from django_tasks_db.models import DBTaskResult

    from clarion.actions.tasks import submissions_intake_process

    page = make_page()
    for n in range(3):
        sign(client, page, email=f"slow{n}@example.net")
    queued = DBTaskResult.objects.filter(task_path=submissions_intake_process.module_path)
    queued.delete()
    # One row per batch and no time: the run stops after its first batch.
    assert submissions_intake_process.call(batch=1, seconds=0) == 1
    assert queued.count() == 1  # the rest are not left for the clock
    assert Submission.objects.filter(processed_at=None).count() == 2


def test_rows_that_keep_failing_back_off_and_never_stall_the_ones_behind(
    client, areas, monkeypatch
):
    page = make_page()
    for address in ("bad1@example.net", "bad2@example.net", "good@example.net"):
        sign(client, page, email=address)
    real = services._intake_process  # noqa: SLF001 - the test breaks two rows on purpose

    def breaking(row):
        if row.intake["email"].startswith("bad"):
            raise RuntimeError("the database refused it")
        real(row)

    monkeypatch.setattr(services, "_intake_process", breaking)
    clock = [1_000_000_000.0]
    monkeypatch.setattr(services.time, "time", lambda: clock[0])
    # The two oldest fill a batch of two and fail: they are put back with a back-off.
    assert services.submissions_process(limit=2) == 2
    bad = Submission.objects.filter(email_canonical__startswith="bad")
    assert [r.intake["failures"] for r in bad.all()] == [1, 1]
    assert all(r.intake["retry_at"] == 1_000_000_000 + 60 for r in bad.all())
    # The next batch reaches the signature behind them.
    assert services.submissions_process(limit=2) == 1
    assert Person.objects.filter(email="good@example.net").exists()
    assert services.submissions_process(limit=2) == 0
    # After the back-off they are tried again, and wait twice as long the next time.
    clock[0] += 61
    assert services.submissions_process(limit=2) == 2
    assert {r.intake["failures"] for r in bad.all()} == {2}
    assert {r.intake["retry_at"] for r in bad.all()} == {int(clock[0]) + 120}
    # Once the fault is gone they are processed, and nothing of the back-off is kept.
    monkeypatch.setattr(services, "_intake_process", real)
    clock[0] += 121
    assert services.submissions_process() == 2
    assert not Submission.objects.filter(processed_at__isnull=True).exists()
    assert all(r.intake == {} for r in Submission.objects.filter(page=page))
    assert Person.objects.filter(email__startswith="bad").count() == 2


def _queue_a_thank_you_email():
    """A thank-you email task already waiting (default priority), queued before the kick."""
    from clarion.actions.tasks import submission_email

    return submission_email.enqueue(submission_id=0)


def test_the_intake_run_goes_ahead_of_tasks_queued_before_it(client, areas):
    """On the database backend the worker takes the intake run before the thank-you
    emails already waiting, so a backlog of email does not hold new signatures."""
    from django.core.cache import cache
    from django_tasks_db.models import DBTaskResult

    waiting = [_queue_a_thank_you_email() for _ in range(3)]
    cache.delete(services.INTAKE_KICK_KEY)
    services.intake_kick()
    ready = list(DBTaskResult.objects.ready())
    assert len(ready) == 4
    first = ready[0]
    assert str(first.id) not in {str(w.id) for w in waiting}
    assert first.priority == 100


def test_on_rq_the_intake_run_goes_to_the_front_of_the_queue(areas, settings):
    import django_rq
    import redis
    from django_tasks import task_backends

    url = "redis://127.0.0.1:6379/13"
    redis.Redis.from_url(url).flushdb()
    settings.RQ_QUEUES = {"default": {"URL": url, "DEFAULT_TIMEOUT": 60}}
    settings.TASKS = {
        "default": {"BACKEND": "clarion.core.outbox.OutboxRQBackend", "QUEUES": ["default"]},
        "outbox": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []},
    }
    try:
        assert type(task_backends["default"]).__name__ == "OutboxRQBackend"
        waiting = [_queue_a_thank_you_email() for _ in range(3)]
        from django.core.cache import cache

        cache.delete(services.INTAKE_KICK_KEY)
        services.intake_kick()
        queue = django_rq.get_queue("default")
        ids = queue.job_ids
        assert len(ids) == 4
        assert ids[0] not in {str(w.id) for w in waiting}
        assert ids[1:] == [str(w.id) for w in waiting]
    finally:
        redis.Redis.from_url(url).flushdb()


@pytest.fixture
def redis_default_cache(settings):
    """The default cache on Redis (db 12), as production runs it."""
    import redis

    url = "redis://127.0.0.1:6379/12"
    redis.Redis.from_url(url).ping()  # .ci/run starts Redis: none is a failure here
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "clarion.core.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "clarion-test-intake",
        },
    }
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_on_redis_the_count_and_the_kick_are_one_round_trip(
    client, areas, redis_default_cache, monkeypatch
):
    """A signature's count and the intake run's kick share one Redis command; the
    count a supporter sees goes up at once, and the run is queued once while it
    waits, not once per signature."""
    from django_tasks_db.models import DBTaskResult

    cache = redis_default_cache
    page = make_page()
    assert page_count(page) == 0  # now cached
    sent = commands_sent(cache, monkeypatch)
    assert sign(client, page, email="one@example.net").status_code == 302
    assert sign(client, page, email="two@example.net").status_code == 302
    assert page_count(page) == 2 and page_count_fresh(page) == 2
    runs = [
        r
        for r in DBTaskResult.objects.ready()
        if r.task_path.endswith("submissions_intake_process")
    ]
    assert len(runs) == 1 and runs[0].priority == 100
    # Per signature: the rate-limit hits, then the count with the kick (scripts);
    # nothing else reaches Redis (the last GET is page_count above).
    # A script new to the server answers NOSCRIPT once, then is loaded and sent again.
    assert [c for c in sent if c not in ("EVALSHA", "SCRIPT LOAD")] == ["GET"], sent
    assert sent.count("EVALSHA") - sent.count("SCRIPT LOAD") == 4, sent
    assert services.submissions_process() == 2


@pytest.mark.django_db(transaction=True)
def test_on_redis_a_failed_queue_leaves_the_row_safe_and_the_answer_a_redirect(
    client, areas, redis_default_cache, monkeypatch, caplog
):
    page = make_page()

    def broken():
        raise ConnectionError("queue down")

    monkeypatch.setattr(services, "_intake_enqueue", broken)
    response = sign(client, page, email="three@example.net")
    assert response.status_code == 302
    assert Submission.objects.get(page=page).in_intake
    assert "Could not queue the intake run" in caplog.text
