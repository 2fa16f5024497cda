from __future__ import annotations

import pytest
from django.core.management import call_command

from clarion.core.testing.smtp import body_html, body_text
from clarion.qa import services
from clarion.qa.models import Question, Session

from .conftest import ask, make_session


@pytest.mark.django_db(transaction=True)
def test_publishing_emails_people_whose_question_was_answered_once(smtp_server, areas, admin):
    session = make_session(join_url="https://example.org/join")
    answered = ask(
        session, name="Ann", email="ann@example.net", text="Will you <b>freeze</b> fares?"
    )
    copy = ask(
        session, name="Cal", email="cal@example.net", text="Will you freeze fares?", ip="10.0.0.2"
    )
    unanswered = ask(
        session,
        name="Una",
        email="una@example.net",
        text="Something about parks here?",
        ip="10.0.0.3",
    )
    services.question_approve(question=answered, moderator=admin)
    services.question_approve(question=unanswered, moderator=admin)
    assert Question.objects.get(pk=copy.pk).merged_into_id == answered.pk
    services.question_answer(
        question=Question.objects.get(pk=answered.pk), moderator=admin, text="Yes, for a year."
    )
    services.session_set_status(session=session, status=Session.Status.CLOSED, moderator=admin)
    services.session_set_status(session=session, status=Session.Status.PUBLISHED, moderator=admin)
    call_command("worker", "--batch")
    messages = smtp_server.wait_for(2)
    assert sorted(m.envelope_to[0] for m in messages) == ["ann@example.net", "cal@example.net"]
    text = body_text(messages[0])
    assert "Yes, for a year." in text and f"/qa/{session.slug}/#q{answered.pk}" in text
    assert "https://example.org/join" in text
    assert "&lt;b&gt;freeze&lt;/b&gt;" in body_html(messages[0])
    # Running the task again sends nothing more.
    from clarion.qa.tasks import qa_answered_notify

    qa_answered_notify.enqueue(session.pk)
    call_command("worker", "--batch")
    assert len(smtp_server.wait_for(3, timeout=1)) == 2
