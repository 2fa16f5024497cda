from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from clarion.core.testing import factories
from clarion.qa import services, voting
from clarion.qa.models import ModerationDecision, Question, Session
from clarion.qa.selectors import session_report

from .conftest import ask, make_session

HOSTILE = '<script>alert("x")</script> SECRET-PENDING'


def _live(client, session, etag=None):
    headers = {"HTTP_IF_NONE_MATCH": etag} if etag else {}
    return client.get(reverse("qa:live", args=[session.slug]), **headers)


def test_the_public_form_stores_a_question_and_shows_next_steps(client, session):
    response = client.post(
        reverse("qa:ask", args=[session.slug]),
        {
            "name": "Nora North",
            "email": "nora@example.net",
            "text": "What about bus fares?",
            "consent": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Thank you for your question" in response.content.decode()
    assert "https://example.org/join" in response.content.decode()
    assert Question.objects.get().status == Question.Status.PENDING


def test_bad_input_gets_form_errors_not_a_500(client, session):
    response = client.post(
        reverse("qa:ask", args=[session.slug]), {"name": "", "email": "not-an-email", "text": ""}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required" in body
    response = client.post(
        reverse("qa:ask", args=[session.slug]),
        {"name": "N", "email": "bad@", "text": "A real question here?"},
    )
    assert response.status_code == 400 and "valid email" in response.content.decode()
    assert client.get("/qa/no-such-session/").status_code == 404
    assert client.get("/qa/no-such-session/live.json").status_code == 404


def test_unapproved_questions_never_reach_the_public(client, session, admin):
    ask(session, text=HOSTILE)
    for i in range(services.WAVE_MIN_PEOPLE + 1):
        ask(
            session,
            email=f"w{i}@burner.test",
            text="Resign now you liar about the donors deal",
            ip=f"10.4.0.{i}",
        )
    rejected = ask(session, email="r@example.net", text="REJECTED-ONE question text")
    services.question_reject(question=rejected, moderator=admin, reason="no")
    pages = [
        client.get(reverse("qa:session", args=[session.slug])),
        client.get(reverse("qa:session", args=[session.slug]) + "?sort=new"),
        client.get(reverse("qa:present", args=[session.slug])),
        _live(client, session),
    ]
    services.session_set_status(session=session, status=Session.Status.PUBLISHED, moderator=admin)
    pages.append(client.get(reverse("qa:session", args=[session.slug])))
    for response in pages:
        body = response.content.decode()
        assert response.status_code == 200
        assert (
            "SECRET-PENDING" not in body
            and "donors deal" not in body
            and "REJECTED-ONE" not in body
        )
    assert json.loads(pages[3].content)["questions"] == []


def test_approved_text_is_escaped_in_pages_and_sent_as_data_in_the_feed(client, session, admin):
    q = ask(session, name="<b>Bold</b> Name", text=HOSTILE)
    services.question_approve(question=q, moderator=admin)
    body = client.get(reverse("qa:session", args=[session.slug])).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert '<script>alert("x")' not in body and "<b>Bold</b>" not in body
    feed = json.loads(_live(client, session).content)
    assert feed["questions"][0]["text"] == HOSTILE
    assert (
        b"<script>" not in _live(client, session).content
    )  # ensure_ascii keeps it as escaped data


def test_live_feed_uses_etags_and_changes_when_a_question_is_approved(
    client, session, admin, django_capture_on_commit_callbacks
):
    first = _live(client, session)
    etag = first["ETag"]
    assert first.status_code == 200 and etag
    assert _live(client, session, etag).status_code == 304
    q = ask(session)
    assert _live(client, session, etag).status_code == 304  # pending changes nothing public
    with django_capture_on_commit_callbacks(execute=True):
        services.question_approve(question=q, moderator=admin)
    changed = _live(client, session, etag)
    assert changed.status_code == 200
    assert [x["text"] for x in json.loads(changed.content)["questions"]] == [q.text]


def test_confirmed_supporters_vote_once_and_votes_reorder(
    client, session, admin, north_person, south_person
):
    a = ask(session, text="First question about trains?")
    b = ask(session, email="b@example.net", text="Second question about housing?")
    services.question_approve(question=a, moderator=admin)
    services.question_approve(question=b, moderator=admin)
    vote_b = reverse("qa:vote", args=[session.slug, b.pk])
    response = client.post(vote_b)
    assert Question.objects.get(pk=b.pk).votes_count == 0  # no confirmed email, no vote
    assert "Confirm your email" in client.get(response.url).content.decode()
    for person in (north_person, south_person):
        voter = Client()
        token = voting.confirm_token(person_id=person.pk, slug=session.slug)
        confirmed = voter.get(reverse("qa:confirm", args=[token]))
        assert confirmed.status_code == 302
        voter.post(vote_b)
        voter.post(vote_b)
    assert Question.objects.get(pk=b.pk).votes_count == 2
    feed = json.loads(_live(client, session).content)
    assert [q["id"] for q in feed["questions"]] == [b.pk, a.pk]
    assert Client().get(reverse("qa:confirm", args=["forged-token"])).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_confirmation_request_emails_a_link(client, session, smtp_server):
    from django.core.management import call_command

    response = client.post(
        reverse("qa:confirm_request", args=[session.slug]), {"email": "new@example.net"}
    )
    assert response.status_code == 302
    call_command("worker", "--batch")
    (message,) = smtp_server.wait_for(1)
    assert "new@example.net" in message.envelope_to
    assert "/qa/confirm/" in message.get_body(preferencelist=("plain",)).get_content()


def test_console_lists_pending_collapses_waves_and_shows_reasons(admin_client, session):
    ask(session, text="A clean question on schools?")
    ask(session, email="l@example.net", text="Look at https://bad.example now", ip="10.0.0.9")
    for i in range(services.WAVE_MIN_PEOPLE + 1):
        ask(
            session,
            email=f"w{i}@burner.test",
            text="Resign now you liar about the donors deal",
            ip=f"10.4.0.{i}",
        )
    page = admin_client.get(reverse("qa_staff:console", args=[session.pk])).content.decode()
    assert "A clean question on schools?" in page and "Contains a link" in page
    assert page.count("Resign now you liar") == 1 and "Flagged wave" in page
    data = admin_client.get(reverse("qa_staff:queue", args=[session.pk])).json()
    assert [c["text"] for c in data["clean"]] == ["A clean question on schools?"]
    assert data["waves"][0]["count"] == services.WAVE_MIN_PEOPLE + 1
    assert data["pending"] == services.WAVE_MIN_PEOPLE + 3


def test_moderating_through_the_console_endpoints(admin_client, session, admin):
    q = ask(session)
    url = reverse("qa_staff:question_action", args=[session.pk, q.pk, "approve"])
    response = admin_client.post(url, HTTP_X_REQUESTED_WITH="fetch")
    assert response.json()["ok"] and Question.objects.get(pk=q.pk).status == "approved"
    again = admin_client.post(url, HTTP_X_REQUESTED_WITH="fetch")
    assert again.status_code == 409
    reject = admin_client.post(
        reverse("qa_staff:question_action", args=[session.pk, q.pk, "reject"]),
        {"reason": ""},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert reject.status_code == 400
    assert ModerationDecision.objects.filter(action="approve").count() == 1


def test_opening_a_question_claims_it(client, session, admin, organiser):
    session.moderators.add(organiser)
    q = ask(session)
    client.force_login(admin)
    page = client.get(reverse("qa_staff:question", args=[session.pk, q.pk])).content.decode()
    assert "You are handling this question" in page
    other = Client()
    other.force_login(organiser)
    page = other.get(reverse("qa_staff:question", args=[session.pk, q.pk])).content.decode()
    assert "is handling this question" in page
    response = other.post(
        reverse("qa_staff:question_action", args=[session.pk, q.pk, "approve"]),
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert response.status_code == 409


def test_staff_scope_and_read_only_roles(
    client, areas, session, organiser, south_organiser, analyst
):
    local = make_session(area=areas.leeds)
    q = ask(local)
    client.force_login(south_organiser)
    for name, args in [
        ("console", [local.pk]),
        ("queue", [local.pk]),
        ("host", [local.pk]),
        ("report", [local.pk]),
        ("question", [local.pk, q.pk]),
        ("console", [session.pk]),
    ]:
        assert client.get(reverse(f"qa_staff:{name}", args=args)).status_code == 404
    assert (
        client.post(
            reverse("qa_staff:question_action", args=[local.pk, q.pk, "approve"])
        ).status_code
        == 404
    )
    assert "Ask the Leader" not in client.get(reverse("qa_staff:list")).content.decode()
    client.force_login(organiser)
    assert (
        client.post(
            reverse("qa_staff:question_action", args=[local.pk, q.pk, "approve"])
        ).status_code
        == 302
    )
    client.force_login(analyst)
    assert client.get(reverse("qa_staff:report", args=[local.pk])).status_code == 200
    assert (
        client.post(
            reverse("qa_staff:question_action", args=[local.pk, q.pk, "reject"]), {"reason": "x"}
        ).status_code
        == 403
    )
    assert client.post(reverse("qa_staff:banned_words"), {"phrase": "x"}).status_code == 403
    assert Question.objects.get(pk=q.pk).status == "approved"


def test_host_answers_and_the_report_counts(admin_client, session, admin):
    q = ask(session)
    ask(session, email="x@example.net", text="Visit https://spam.example please", ip="10.0.0.8")
    services.question_approve(question=q, moderator=admin)
    admin_client.post(reverse("qa_staff:question_action", args=[session.pk, q.pk, "answering"]))
    assert Session.objects.get(pk=session.pk).answering_now_id == q.pk
    assert (
        "Answering now"
        in admin_client.get(reverse("qa:session", args=[session.slug])).content.decode()
    )
    bad = admin_client.post(
        reverse("qa_staff:question_action", args=[session.pk, q.pk, "answer"]),
        {"answer_text": "", "answer_at": "1:99"},
        follow=True,
    )
    assert "h:mm:ss" in bad.content.decode()
    admin_client.post(
        reverse("qa_staff:question_action", args=[session.pk, q.pk, "answer"]),
        {"answer_text": "We will freeze them.", "answer_at": "12:30"},
    )
    q.refresh_from_db()
    assert q.answer_seconds == 750 and q.answer_text == "We will freeze them."
    report = admin_client.get(reverse("qa_staff:report", args=[session.pk])).content.decode()
    assert "People new to the database" in report
    rep = session_report(session)
    assert (rep["received"], rep["approved"], rep["answered"], rep["new_people"]) == (2, 1, 1, 2)
    assert dict((c, n) for c, _l, n in rep["held"])["link"] == 1


def test_staff_create_a_session_and_edit_banned_words(admin_client, areas):
    response = admin_client.post(
        reverse("qa_staff:create"),
        {
            "title": "Ask Alex",
            "slug": "ask-alex",
            "host": "Alex",
            "audience": "anyone",
            "max_length": 300,
            "max_per_person": 2,
            "video_url": "http://insecure.example",
        },
    )
    assert response.status_code == 200 and "https://" in response.content.decode()
    response = admin_client.post(
        reverse("qa_staff:create"),
        {
            "title": "Ask Alex",
            "slug": "ask-alex",
            "host": "Alex",
            "audience": "anyone",
            "max_length": 300,
            "max_per_person": 2,
        },
    )
    assert response.status_code == 302 and Session.objects.get(slug="ask-alex").status == "draft"
    assert admin_client.get("/qa/ask-alex/").status_code == 404  # drafts are not public
    admin_client.post(reverse("qa_staff:banned_words"), {"phrase": "Wrecker"})
    page = admin_client.get(reverse("qa_staff:banned_words")).content.decode()
    assert "wrecker" in page
    dup = admin_client.post(reverse("qa_staff:banned_words"), {"phrase": "WRECKER"})
    assert "already" in dup.content.decode()


@pytest.mark.parametrize("role", ["organiser"])
def test_organiser_can_only_create_sessions_in_their_area(client, areas, role):
    user = factories.staff_user(role=role, area=areas.north)
    client.force_login(user)
    response = client.post(
        reverse("qa_staff:create"),
        {
            "title": "Leeds Q&A",
            "slug": "leeds-qa",
            "host": "Cllr",
            "audience": "anyone",
            "max_length": 300,
            "max_per_person": 2,
            "area": areas.bristol.pk,
        },
    )
    assert response.status_code == 200 and not Session.objects.filter(slug="leeds-qa").exists()


def test_votes_reach_the_live_feed_folded_together(
    client, session, admin, north_person, monkeypatch, django_capture_on_commit_callbacks
):
    from clarion.qa import live

    q = ask(session)
    with django_capture_on_commit_callbacks(execute=True):
        services.question_approve(question=q, moderator=admin)
    etag = _live(client, session)["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        services.vote_add(
            question=Question.objects.get(pk=q.pk), person_id=north_person.pk, ip=None
        )
    assert _live(client, session, etag).status_code == 304  # folded in within VOTE_COALESCE seconds
    monkeypatch.setattr(live, "VOTE_COALESCE", 0)
    response = _live(client, session, etag)
    assert response.status_code == 200
    assert json.loads(response.content)["questions"][0]["votes"] == 1


def test_a_current_poll_never_reads_the_feed_body_from_the_cache(
    client, session, admin, monkeypatch
):
    from clarion.qa import live

    services.question_approve(question=ask(session), moderator=admin)
    etag = _live(client, session)["ETag"]
    read = []
    real_get, real_get_many = live.cache.get, live.cache.get_many
    monkeypatch.setattr(
        live.cache, "get", lambda key, *a, **k: read.append(key) or real_get(key, *a, **k)
    )
    monkeypatch.setattr(
        live.cache,
        "get_many",
        lambda keys, *a, **k: read.extend(keys) or real_get_many(keys, *a, **k),
    )
    assert _live(client, session, etag).status_code == 304
    assert read and not [key for key in read if key.startswith(("qa:live:b:", "qa:live:z:"))]
    assert _live(client, session).status_code == 200
    assert [key for key in read if key.startswith("qa:live:b:")]


def test_the_live_feed_is_gzipped_once_per_version_for_clients_that_accept_it(
    client, session, admin
):
    import gzip

    services.question_approve(question=ask(session), moderator=admin)
    url = reverse("qa:live", args=[session.slug])
    plain = client.get(url)
    zipped = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain and zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert "Accept-Encoding" in zipped["Vary"] and "Accept-Encoding" in plain["Vary"]
    assert zipped["ETag"] != plain["ETag"]  # one validator per content coding
    assert (
        client.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=zipped["ETag"]).status_code
        == 304
    )
    assert client.get(url, HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 304
    assert "Content-Encoding" not in client.get(url, HTTP_ACCEPT_ENCODING="gzip;q=0, br")


def test_the_live_feed_skips_session_and_locale_middleware_but_keeps_the_safety_headers(
    client, session
):
    url = reverse("qa:live", args=[session.slug])
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] and response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    assert "Accept-Language" not in response["Vary"] and "Cookie" not in response["Vary"]
    assert not response.cookies
    assert client.get(url, HTTP_HOST="evil.example").status_code == 400  # ALLOWED_HOSTS still holds
    assert client.get(url.replace(session.slug, "no-such-session")).status_code == 404


def test_a_feed_whose_bytes_left_the_cache_is_rebuilt(client, session, admin):
    from django.core.cache import cache

    from clarion.qa import live

    services.question_approve(question=ask(session), moderator=admin)
    first = _live(client, session)
    version = json.loads(first.content)["version"]
    cache.delete_many([live.body_key(session.slug, version, gzipped=z) for z in (False, True)])
    again = _live(client, session)
    assert (
        again.status_code == 200
        and again.content == first.content
        and again["ETag"] == first["ETag"]
    )


def test_the_live_feed_names_askers_by_first_name_and_initial_only(client, session, admin):
    services.question_approve(question=ask(session, name="Nora Jane North"), moderator=admin)
    services.question_approve(
        question=ask(session, name="Cher", email="cher@example.net", text="Will trains run later?"),
        moderator=admin,
    )
    names = sorted(q["name"] for q in json.loads(_live(client, session).content)["questions"])
    assert names == ["Cher", "Nora N."]


def test_a_path_ending_in_live_json_that_is_no_feed_goes_through_the_full_stack(client, session):
    # Remembered per path: asking twice must answer the same, and never as a feed.
    for _ in range(2):
        response = client.get(f"/qa/{session.slug}/other/live.json")
        assert response.status_code == 404
        assert "ETag" not in response
