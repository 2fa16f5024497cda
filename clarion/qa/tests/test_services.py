from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.core.privacy import erase_person, export_person
from clarion.people.models import Activity, ConsentRecord, Person
from clarion.qa import services
from clarion.qa.models import Ban, BannedPhrase, ModerationDecision, Question, QuestionGroup, Vote

from .conftest import ask, make_session


def test_a_question_is_stored_pending_with_the_person_created_through_people(session):
    q = ask(session, consent=True)
    assert q.status == Question.Status.PENDING
    assert q.reasons == []
    person = Person.objects.get(email="nora@example.net")
    assert (person.first_name, person.last_name) == ("Nora", "North")
    assert q.person_was_new
    assert ConsentRecord.objects.filter(person=person, source=f"qa:{session.slug}").count() == 1
    assert Activity.objects.filter(person=person, kind=Activity.Kind.QUESTION).count() == 1


def test_a_known_person_is_not_renamed_by_the_public_form(session, north_person):
    ask(session, name="Someone Else", email="NORA@example.net")
    north_person.refresh_from_db()
    assert north_person.first_name == "Nora"


def test_closed_or_too_long_questions_are_refused_with_a_message(session):
    with pytest.raises(ValidationError) as exc:
        ask(session, text="x" * (session.max_length + 1))
    assert "characters" in str(exc.value)
    session.status = session.Status.CLOSED
    session.save()
    with pytest.raises(ValidationError):
        ask(session)
    assert Question.objects.count() == 0


def test_questions_per_person_limit_is_enforced(session):
    session.max_per_person = 2
    session.save()
    ask(session, text="First question about buses?")
    ask(session, text="Second question about housing?")
    with pytest.raises(ValidationError) as exc:
        ask(session, email="Nora@Example.net", text="Third question about schools?")
    assert "most allowed" in str(exc.value)


def test_screening_reasons_are_recorded(session, admin):
    services.banned_phrase_add(phrase="Traitor", actor=admin)
    q = ask(session, text="You TRAITOR, see https://wreck.example for the truth")
    assert {"banned_word", "link"} <= set(q.reasons)
    assert BannedPhrase.objects.get().phrase == "traitor"


def test_rate_limits_per_person_ip_and_domain_flag_questions(session):
    session.max_per_person = 50
    session.save()
    reasons = []
    for i in range(services.RATE_IP + 1):
        q = ask(
            session,
            email=f"p{i}@tiny-domain.test",
            text=f"Distinct question number {'abcdefghijklmnop'[i]} please",
            ip="10.9.9.9",
        )
        reasons.append(q.reasons)
    assert "rate_ip" in reasons[-1] and "rate_ip" not in reasons[0]
    for i in range(services.RATE_PERSON + 1):
        q = ask(
            session,
            email="same@example.net",
            text=f"Another question {'qrstuvwxyz'[i]}{'zyxw'[i]} here",
            ip=f"10.1.1.{i}",
        )
    assert "rate_person" in q.reasons
    for i in range(services.RATE_DOMAIN - services.RATE_IP + 1):
        q = ask(
            session,
            email=f"d{i}@tiny-domain.test",
            text=f"Question {i} " + "xyzw"[i % 4] * 3,
            ip=f"10.2.2.{i}",
        )
    assert "rate_domain" in q.reasons


def test_near_duplicates_share_a_group_and_show_as_one_card(session):
    a = ask(
        session, email="a@example.net", text="Why did you cut funding for the northern rail line?"
    )
    b = ask(
        session,
        email="b@example.net",
        text="why did you CUT funding for the Northern rail line??",
        ip="10.0.0.2",
    )
    c = ask(
        session,
        email="c@example.net",
        text="Will you build council houses in Leeds?",
        ip="10.0.0.3",
    )
    assert a.group_id == b.group_id != c.group_id
    assert "duplicate" in b.reasons
    assert QuestionGroup.objects.get(pk=a.group_id).size == 2


def test_a_burst_from_many_new_people_is_held_as_one_flagged_wave(session):
    base = "Why are you hiding the truth about the secret deal with the donors"
    questions = [
        ask(
            session,
            name=f"Troll {i}",
            email=f"t{i}@burner.test",
            text=f"{base} {'!' * (i % 2)}",
            ip=f"10.5.0.{i}",
        )
        for i in range(services.WAVE_MIN_PEOPLE + 3)
    ]
    groups = {q.group_id for q in questions}
    assert len(groups) == 1
    group = QuestionGroup.objects.get(pk=groups.pop())
    assert group.wave
    assert all("wave" in q.reasons for q in Question.objects.filter(group=group))
    assert Question.objects.filter(status=Question.Status.APPROVED).count() == 0


def test_similar_questions_from_known_people_do_not_make_a_wave(session):
    people = [
        Person.objects.create(email=f"old{i}@example.net")
        for i in range(services.WAVE_MIN_PEOPLE + 2)
    ]
    for i, p in enumerate(people):
        ask(
            session,
            email=p.email,
            text="What is the plan for rural bus routes next year?",
            ip=f"10.6.0.{i}",
        )
    assert not QuestionGroup.objects.filter(wave=True).exists()


def test_claim_on_open_keeps_two_moderators_apart(session, admin, organiser):
    session.moderators.add(organiser)
    q = ask(session)
    assert services.question_claim(question=q, moderator=admin)
    assert not services.question_claim(question=q, moderator=organiser)
    with pytest.raises(services.ModerationConflict):
        services.question_approve(question=q, moderator=organiser)
    # A lapsed claim can be taken over.
    Question.objects.filter(pk=q.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert services.question_claim(question=q, moderator=organiser)
    services.question_approve(question=q, moderator=organiser)
    with pytest.raises(services.ModerationConflict):
        services.question_reject(
            question=Question.objects.get(pk=q.pk), moderator=admin, reason="late"
        )
    assert Question.objects.get(pk=q.pk).status == Question.Status.APPROVED


def test_every_decision_is_recorded(session, admin):
    q1 = ask(session, text="How will you fund the NHS?")
    q2 = ask(session, email="b@example.net", text="Where do you stand on tuition fees?")
    q3 = ask(session, email="c@example.net", text="Will you fix potholes in Bristol?")
    services.question_edit(question=q1, moderator=admin, text="How will you fund the NHS properly?")
    services.question_star(question=q1, moderator=admin)
    services.question_approve(question=q1, moderator=admin)
    services.question_reject(question=q2, moderator=admin, reason="Off topic")
    services.question_merge(question=q3, into=q1, moderator=admin)
    services.person_ban(question=q2, moderator=admin, reason="abuse")
    actions = set(ModerationDecision.objects.values_list("action", flat=True))
    assert actions == {"edit", "star", "approve", "reject", "merge", "ban"}
    q1.refresh_from_db()
    assert q1.text.endswith("properly?") and q1.original_text == "How will you fund the NHS?"
    assert q1.also_asked == 1 and q1.starred
    assert AuditEntry.objects.filter(object_type="qa.ban").count() == 1


def test_approving_a_card_merges_its_pending_copies(session, admin):
    a = ask(
        session, email="a@example.net", text="Why did you cut funding for the northern rail line?"
    )
    ask(
        session,
        email="b@example.net",
        text="Why did you cut the funding for the northern rail line?",
    )
    services.question_approve(question=a, moderator=admin)
    a.refresh_from_db()
    assert a.also_asked == 1
    assert Question.objects.filter(status=Question.Status.MERGED, merged_into=a).count() == 1


def test_a_banned_person_cannot_get_through_by_renaming_or_changing_email_case(session, admin):
    q = ask(session, name="Troll Original", email="troll@example.net")
    services.person_ban(question=q, moderator=admin, reason="abuse")
    q.refresh_from_db()
    assert q.status == Question.Status.REJECTED
    again = ask(
        session,
        name="Totally New Name",
        email="TROLL@Example.NET",
        text="An innocent looking question?",
        ip="10.7.7.7",
    )
    assert again.status == Question.Status.REJECTED and "banned" in again.reasons
    # A Gmail dot/+tag variant is a new address but the same mailbox.
    ban_gmail = ask(
        session,
        name="G",
        email="some.troll@gmail.com",
        text="First gmail question here?",
        ip="10.7.7.8",
    )
    services.person_ban(question=ban_gmail, moderator=admin, reason="abuse")
    variant = ask(
        session,
        name="H",
        email="sometroll+qa@gmail.com",
        text="Second gmail question here?",
        ip="10.7.7.9",
    )
    assert variant.status == Question.Status.REJECTED
    # Same network address, new everything else: held for a moderator, flagged.
    other = ask(
        session,
        name="X",
        email="fresh@example.org",
        text="A question from the same network?",
        ip="10.0.0.1",
    )
    assert other.status == Question.Status.PENDING and "banned" in other.reasons
    assert Ban.objects.count() == 2


def test_group_actions_on_a_wave(session, admin):
    for i in range(services.WAVE_MIN_PEOPLE + 1):
        ask(
            session,
            email=f"w{i}@burner.test",
            text="Resign now you have lied about the donors deal",
            ip=f"10.8.0.{i}",
        )
    group = QuestionGroup.objects.get(wave=True)
    n = services.group_ban(group=group, moderator=admin, reason="brigade")
    assert n == services.WAVE_MIN_PEOPLE + 1
    assert Ban.objects.count() == services.WAVE_MIN_PEOPLE + 1
    assert not Question.objects.filter(status=Question.Status.PENDING).exists()
    again = ask(
        session,
        email="W0@burner.test",
        text="Different words entirely from a banned one?",
        ip="10.99.0.1",
    )
    assert again.status == Question.Status.REJECTED


def test_votes_are_one_per_person_and_rate_limited(session, admin, north_person, south_person):
    q = ask(session)
    services.question_approve(question=q, moderator=admin)
    q.refresh_from_db()
    assert services.vote_add(question=q, person_id=north_person.pk, ip="10.0.0.5")
    assert not services.vote_add(question=q, person_id=north_person.pk, ip="10.0.0.6")
    assert services.vote_add(question=q, person_id=south_person.pk, ip="10.0.0.5")
    q.refresh_from_db()
    assert q.votes_count == 2 == Vote.objects.filter(question=q).count()
    others = [
        Question.objects.create(
            session=session,
            person=south_person,
            display_name="Sid",
            text=f"Topic {i}",
            status=Question.Status.APPROVED,
        )
        for i in range(services.VOTES_PER_MINUTE_PERSON)
    ]
    with pytest.raises(services.Throttled):
        for other in others:
            services.vote_add(question=other, person_id=north_person.pk, ip="10.0.0.7")


def test_unapproved_questions_cannot_be_voted_on(session, north_person):
    q = ask(session)
    with pytest.raises(ValidationError):
        services.vote_add(question=q, person_id=north_person.pk, ip=None)


def test_answer_needs_text_or_a_time(session, admin):
    q = ask(session)
    services.question_approve(question=q, moderator=admin)
    with pytest.raises(ValidationError):
        services.question_answer(question=q, moderator=admin)
    services.session_answering_set(session=session, question=q, moderator=admin)
    services.question_answer(question=q, moderator=admin, seconds=125)
    q.refresh_from_db()
    session.refresh_from_db()
    assert q.answered and q.answer_at_display == "2:05"
    assert session.answering_now is None


def test_person_data_is_exported_erased_and_merged(session, admin):
    q = ask(session, email="erase@example.net")
    services.question_approve(question=q, moderator=admin)
    voter = Person.objects.create(email="voter@example.net")
    services.vote_add(question=Question.objects.get(pk=q.pk), person_id=voter.pk, ip=None)
    asker = Person.objects.get(email="erase@example.net")
    data = export_person(asker)
    assert data["qa"]["questions"][0]["text"] == q.text

    dup = Person.objects.create(email="voter2@example.net")
    services.vote_add(question=Question.objects.get(pk=q.pk), person_id=dup.pk, ip=None)
    from clarion.core.privacy import merge_person

    merge_person(voter, dup)
    assert Vote.objects.filter(person=voter).count() == 1
    assert Question.objects.get(pk=q.pk).votes_count == 1

    erase_person(asker)
    assert not Question.objects.filter(pk=q.pk).exists()
    erase_person(voter)
    assert Vote.objects.count() == 0


def test_members_only_sessions_need_a_confirmed_member(db, north_person):
    s = make_session(audience="members")
    with pytest.raises(ValidationError):
        ask(s, email=north_person.email)
    with pytest.raises(ValidationError) as exc:
        ask(s, email=north_person.email, confirmed_person_id=north_person.pk)
    assert "members" in str(exc.value)
