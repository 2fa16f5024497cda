"""Signing, pledging and filling in forms: the public flow and the submission service."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from clarion.actions.models import ActionPage, Submission
from clarion.actions.selectors import page_count, page_count_fresh, recruits_count
from clarion.actions.services import mailing_token_value
from clarion.core.tokens import MAILING_LINK
from clarion.people.models import Activity, ConsentRecord, CustomField, EmailStatus, Person

from .conftest import make_page


def sign(client, page, *, extra=None, **data):
    payload = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.net",
        "postcode": "",
    }
    payload.update(data)
    return client.post(
        reverse("actions:page", kwargs={"slug": page.slug}), payload, **(extra or {})
    )


def test_petition_page_shows_title_body_count_and_goal(client, petition):
    response = client.get(reverse("actions:page", kwargs={"slug": petition.slug}))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Save the library</h1>" in html
    assert "<strong>library</strong>" in html
    assert "of a goal of 100" in html
    assert 'property="og:title" content="Save the library"' in html
    assert 'property="og:image"' in html and "/share.png" in html
    assert 'name="twitter:card" content="summary_large_image"' in html


def test_signing_commits_before_the_redirect_and_lands_on_the_timeline(client, petition):
    response = sign(client, petition, email_consent="on", show_name="on", postcode="LS1 4AP")
    assert response.status_code == 302
    assert "/act/save-the-library/thanks/?s=" in response["Location"]
    submission = Submission.objects.get(page=petition)
    person = submission.person
    assert person.email == "ada@example.net"
    assert submission.status == Submission.Status.CONFIRMED
    assert person.email_status == EmailStatus.SUBSCRIBED
    assert ConsentRecord.objects.get(person=person).wording == petition.consent_wording
    assert submission.consent_wording == petition.consent_wording
    assert Activity.objects.filter(
        person=person, kind=Activity.Kind.ACTION, summary__contains="Save the library"
    ).exists()
    assert page_count_fresh(petition) == 1


def test_without_consent_the_email_status_is_left_alone(client, petition, north_person):
    north_person.email_status = EmailStatus.UNSUBSCRIBED
    Person.objects.filter(pk=north_person.pk).update(email_status=EmailStatus.UNSUBSCRIBED)
    sign(client, petition, email=north_person.email)
    north_person.refresh_from_db()
    assert north_person.email_status == EmailStatus.UNSUBSCRIBED


@pytest.mark.parametrize(
    "variant", ["ADA@example.net", "  ada@example.net ", "ada+petition@example.net"]
)
def test_same_mailbox_signing_twice_is_counted_once(client, petition, variant):
    sign(client, petition)
    response = sign(client, petition, email=variant)
    assert response.status_code == 302
    assert "again=1" in response["Location"]
    assert Submission.objects.filter(page=petition).count() == 1
    assert page_count_fresh(petition) == 1
    thanks = client.get(response["Location"])
    assert "already taken part" in thanks.content.decode()


def test_gmail_dots_and_tags_count_once(client, petition):
    sign(client, petition, email="john.smith@gmail.com")
    sign(client, petition, email="johnsmith+x@googlemail.com")
    assert page_count_fresh(petition) == 1


def test_thank_you_page_gives_a_personal_share_link_and_plain_share_buttons(client, petition):
    response = sign(client, petition)
    thanks = client.get(response["Location"])
    html = thanks.content.decode()
    person = Person.objects.get(email="ada@example.net")
    assert f"/act/save-the-library/?ref={person.share_code}" in html
    assert "https://www.facebook.com/sharer/sharer.php?u=" in html
    assert "https://twitter.com/intent/tweet?" in html
    assert "https://wa.me/?text=" in html
    assert "mailto:?subject=" in html
    assert "You've brought in 0 people" in html
    assert '<script src="https://' not in html


def test_share_link_credits_the_recruiter(client, petition):
    sign(client, petition)
    ada = Person.objects.get(email="ada@example.net")
    page = client.get(
        reverse("actions:page", kwargs={"slug": petition.slug}), {"ref": ada.share_code}
    )
    assert "Ada invited you" in page.content.decode()
    assert f'value="{ada.share_code}"' in page.content.decode()
    sign(client, petition, first_name="Grace", email="grace@example.net", ref=ada.share_code)
    grace = Person.objects.get(email="grace@example.net")
    assert grace.recruiter == ada
    assert Submission.objects.get(person=grace).recruiter == ada
    assert recruits_count(ada) == 1
    token = signing.dumps(ada.pk, salt="clarion.actions.thanks", compress=True)
    thanks = client.get(reverse("actions:thanks", kwargs={"slug": petition.slug}), {"p": token})
    assert "You've brought in 1 person" in thanks.content.decode()


def test_recent_signers_show_only_those_who_agreed(client, petition):
    sign(client, petition, first_name="Shown", email="shown@example.net", show_name="on")
    sign(client, petition, first_name="Hidden", email="hidden@example.net")
    html = client.get(reverse("actions:page", kwargs={"slug": petition.slug})).content.decode()
    assert "Shown" in html
    assert "Hidden" not in html


def test_count_and_progress_show_on_the_page_and_in_json(client, petition):
    for n in range(3):
        sign(client, petition, email=f"p{n}@example.net")
    data = client.get(reverse("actions:count", kwargs={"slug": petition.slug})).json()
    assert data == {"count": 3, "goal": 100, "percent": 3}
    html = client.get(reverse("actions:page", kwargs={"slug": petition.slug})).content.decode()
    assert re.search(r'<progress[^>]*max="100" value="3"', html)


def test_next_step_is_offered_and_followed(client, petition):
    donate = make_page(kind=ActionPage.Kind.SIGNUP, slug="volunteer", title="Volunteer with us")
    petition.next_step = ActionPage.NextStep.PAGE
    petition.next_page = donate
    petition.save()
    thanks = client.get(sign(client, petition)["Location"])
    html = thanks.content.decode()
    assert "Volunteer with us" in html
    next_url = re.search(r'href="(/act/save-the-library/next/\?p=[^"]+)"', html).group(1)
    follow = client.get(next_url.replace("&amp;", "&"))
    assert follow.status_code == 302
    assert follow["Location"].startswith("/act/volunteer/?source=next%3Asave-the-library")
    assert Submission.objects.get(page=petition).next_step_at is not None


def test_the_next_step_carries_the_mailing_that_brought_the_supporter(client, petition):
    follow_on = make_page(
        kind=ActionPage.Kind.DONATION, slug="fund-the-fight", title="Fund the fight"
    )
    petition.next_step = ActionPage.NextStep.DONATE
    petition.next_page = follow_on
    petition.save()
    token = signing.dumps("7:1234", salt=MAILING_LINK)
    thanks = client.get(sign(client, petition, mt=token)["Location"])
    assert Submission.objects.get(page=petition).mailing_token == "7:1234"
    next_url = re.search(
        r'href="(/act/save-the-library/next/\?p=[^"]+)"', thanks.content.decode()
    ).group(1)
    location = client.get(next_url.replace("&amp;", "&"))["Location"]
    carried = parse_qs(urlsplit(location).query)
    assert mailing_token_value(carried["mt"][0]) == "7:1234"
    # A supporter who came from nowhere carries nothing on.
    client.cookies.clear()
    thanks = client.get(sign(client, petition, email="bo@example.net")["Location"])
    next_url = re.search(
        r'href="(/act/save-the-library/next/\?p=[^"]+)"', thanks.content.decode()
    ).group(1)
    assert "mt=" not in client.get(next_url.replace("&amp;", "&"))["Location"]


def test_pledge_shows_pledge_wording(client):
    pledge = make_page(
        kind=ActionPage.Kind.PLEDGE, slug="vote", title="Vote", pledge_text="vote on 4 July"
    )
    html = client.get(reverse("actions:page", kwargs={"slug": "vote"})).content.decode()
    assert "I pledge to vote on 4 July" in html
    assert "Make the pledge" in html
    sign(client, pledge)
    assert page_count_fresh(pledge) == 1


def test_signup_answers_land_on_the_person_and_the_submission(client):
    CustomField.objects.create(key="skills", label="Skills", kind="text")
    page = make_page(
        kind=ActionPage.Kind.SIGNUP,
        slug="join-in",
        title="Join in",
        questions=[
            {
                "key": "skills",
                "label": "What can you do?",
                "kind": "text",
                "required": True,
                "custom_field": "skills",
            },
            {"key": "when", "label": "When?", "kind": "multi", "choices": ["Weekdays", "Weekends"]},
            {"key": "car", "label": "Do you drive?", "kind": "yesno"},
            {"key": "hours", "label": "Hours a week", "kind": "number"},
        ],
    )
    missing = sign(client, page)
    assert missing.status_code == 400
    assert "This field is required." in missing.content.decode()
    response = sign(
        client, page, q_skills="Leafleting", q_when=["Weekends"], q_car="yes", q_hours="4"
    )
    assert response.status_code == 302
    submission = Submission.objects.get(page=page)
    assert submission.answers == {
        "skills": "Leafleting",
        "when": ["Weekends"],
        "car": True,
        "hours": 4,
    }
    assert submission.person.custom_fields["skills"] == "Leafleting"


def test_closed_page_says_so_and_still_shows_the_count(client, petition):
    sign(client, petition)
    petition.status = ActionPage.Status.CLOSED
    petition.save()
    html = client.get(reverse("actions:page", kwargs={"slug": petition.slug})).content.decode()
    assert "This page is closed" in html
    assert "1 person took part" in html
    response = sign(client, petition, email="late@example.net")
    assert response.status_code == 400
    assert Submission.objects.filter(page=petition).count() == 1


def test_draft_pages_are_not_public(client):
    make_page(slug="secret", status=ActionPage.Status.DRAFT)
    assert client.get("/act/secret/").status_code == 404


def test_mailing_token_is_stored_only_when_it_verifies(client, petition):
    good = signing.dumps("m7:p42", salt="clarion.mailing-link")
    sign(client, petition, mt=good)
    sign(client, petition, email="b@example.net", mt="forged:token")
    rows = dict(Submission.objects.values_list("person__email", "mailing_token"))
    assert rows == {"ada@example.net": "m7:p42", "b@example.net": ""}


def test_attribution_fields_are_recorded(client, petition):
    page = client.get(
        reverse("actions:page", kwargs={"slug": petition.slug}),
        {"source": "leaflet", "utm_source": "newsletter", "utm_campaign": "june"},
        HTTP_REFERER="https://news.example.com/story",
    )
    html = page.content.decode()
    assert 'value="leaflet"' in html and 'value="https://news.example.com/story"' in html
    sign(
        client,
        petition,
        source="leaflet",
        utm_source="newsletter",
        utm_campaign="june",
        referrer="https://news.example.com/story",
    )
    s = Submission.objects.get()
    assert (s.source, s.referrer_domain, s.utm) == (
        "leaflet",
        "news.example.com",
        {"source": "newsletter", "campaign": "june"},
    )
    assert s.ip_hash and "127.0.0.1" not in s.ip_hash


def test_share_image_is_a_png(client, petition):
    response = client.get(reverse("actions:share_image", kwargs={"slug": petition.slug}))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_shown_count_is_cached_and_includes_ones_own_signature(client, petition, settings):
    settings.CLARION_ACTION_COUNT_SECONDS = 60
    assert page_count(petition) == 0
    sign(client, petition)
    assert page_count(petition) == 1  # the signer's own signature counts at once
    Submission.objects.filter(page=petition).update(status=Submission.Status.INVALID)
    assert page_count(petition) == 1  # still within the interval
    assert page_count_fresh(petition) == 0


def _first_signature_queries(client, page, settings, capture) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Production keeps the cache and rate limits in Redis, not in database rows.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with CaptureQueriesContext(connection) as ctx, capture(execute=True):
        response = sign(client, page, email="first.timer@example.net", email_consent="on")
    assert response.status_code == 302
    return [q["sql"] for q in ctx.captured_queries]


def test_a_first_signature_is_one_intake_row_then_the_worker_does_the_rest(
    client, settings, intake_async, django_capture_on_commit_callbacks
):
    # A spike of signatures is mostly first-time signers: the request commits one
    # intake row and queues the workers; a regression shows here before the bench.
    from clarion.actions.tasks import submissions_intake_process

    page = make_page(ask_postcode=False)
    queries = _first_signature_queries(client, page, settings, django_capture_on_commit_callbacks)
    data = [q for q in queries if "SAVEPOINT" not in q]
    # The page, the intake row, the processing task queued after commit.
    assert len(data) <= 3, "\n".join(data)
    assert not any("people_" in q for q in data), "\n".join(data)
    assert any("submissions_intake_process" in q for q in data)
    submission = Submission.objects.get(page=page)
    assert submission.person is None and submission.processed_at is None
    assert submission.intake["email"] == "first.timer@example.net"
    assert page_count_fresh(page) == 1  # counted before it is processed
    assert not Person.objects.exists()

    assert submissions_intake_process.call() == 1
    submission.refresh_from_db()
    assert submission.processed_at is not None and submission.intake == {}
    assert submission.person.email == "first.timer@example.net"
    assert submission.person.email_status == EmailStatus.SUBSCRIBED
    assert submission.person_created
    assert Activity.objects.filter(person=submission.person, kind=Activity.Kind.ACTION).count() == 1
    # The thank-you email is queued with the processing, in the same transaction.
    assert DBTaskResult.objects.filter(
        task_path="clarion.actions.tasks.submission_email",
        args_kwargs__kwargs__submission_id=submission.pk,
    ).exists()
    assert submissions_intake_process.call() == 0  # nothing is processed twice


def test_signing_twice_with_new_details_changes_nothing_and_counts_once(client, petition):
    sign(client, petition, email="Ada@Example.net", first_name="Ada")
    response = sign(
        client, petition, email="ada@example.net ", first_name="Augusta", email_consent="on"
    )
    assert response.status_code == 302
    assert "again=1" in response["Location"]
    person = Person.objects.get(email="ada@example.net")
    # The second attempt is undone whole: no new name, no consent, one timeline entry.
    assert person.first_name == "Ada"
    assert person.email_status != EmailStatus.SUBSCRIBED
    assert not ConsentRecord.objects.filter(person=person).exists()
    assert Activity.objects.filter(person=person, kind=Activity.Kind.ACTION).count() == 1
    assert page_count_fresh(petition) == 1


def test_on_redis_both_rate_limits_hold(client, petition, settings):
    # Production keeps rate limits in Redis; the signature path counts both the IP and
    # the mailbox there.
    from clarion.core.ratelimit import ratelimit_count, ratelimit_reset

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/11",
            "KEY_PREFIX": "clarion-test-signfast",
        }
    }
    settings.CLARION_ACTION_EMAIL_LIMIT = 2
    settings.CLARION_ACTION_IP_LIMIT = 4
    scopes = [("actions:email", "ada@example.net"), ("actions:ip", "127.0.0.1")]
    for scope, ident in scopes:
        ratelimit_reset(scope=scope, ident=ident)
    try:
        assert sign(client, petition, email="ada@example.net").status_code == 302
        assert (
            sign(client, petition, email="ADA@example.net").status_code == 302
        )  # duplicate, counted
        response = sign(client, petition, email="ada@example.net")
        assert response.status_code == 429
        assert ratelimit_count(scope="actions:email", ident="ada@example.net") == 3
        # Another mailbox from the same address is still let in, up to the IP limit.
        assert sign(client, petition, email="grace@example.net").status_code == 302
        assert sign(client, petition, email="mary@example.net").status_code == 429
        assert page_count_fresh(petition) == 2
    finally:
        for scope, ident in [
            *scopes,
            ("actions:email", "grace@example.net"),
            ("actions:email", "mary@example.net"),
        ]:
            ratelimit_reset(scope=scope, ident=ident)
