"""Background work for Q&A. Tasks take ids and are safe to run twice."""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from clarion.core.site import site_url
from clarion.people.models import EmailStatus, Person

from . import emails, voting
from .models import Question, Session

NO_MAIL = (EmailStatus.BOUNCING, EmailStatus.COMPLAINED)


@task()
def qa_answered_notify(session_id: int) -> int:
    """Email each asker whose question (or a copy merged into it) was answered.

    Each question is marked notified with a conditional UPDATE before its emails go,
    so a task run twice (or by two workers) mails once; if sending fails the mark is
    undone and the task raises, so a retry sends it.
    """
    session = Session.objects.get(pk=session_id)
    link = site_url(reverse("qa:session", args=[session.slug]))
    sent = 0
    answered = Question.objects.filter(
        session=session,
        status=Question.Status.APPROVED,
        answered_at__isnull=False,
        notified_at__isnull=True,
    )
    for question in answered:
        if not Question.objects.filter(pk=question.pk, notified_at__isnull=True).update(
            notified_at=timezone.now()
        ):
            continue
        people = (
            Person.objects.filter(Q(pk=question.person_id) | Q(qa_questions__merged_into=question))
            .exclude(email__isnull=True)
            .exclude(email_status__in=NO_MAIL)
            .distinct()
        )
        try:
            for person in people:
                emails.answered_email_send(
                    to=person.email,
                    question=question,
                    session=session,
                    link=f"{link}#q{question.pk}",
                )
                sent += 1
        except Exception:
            Question.objects.filter(pk=question.pk).update(notified_at=None)
            raise
    return sent


@task()
def qa_confirm_send(person_id: int, session_id: int) -> None:
    """Email a supporter the link that confirms their address for voting."""
    person = Person.objects.filter(pk=person_id).first()
    session = Session.objects.filter(pk=session_id).first()
    if person is None or session is None or not person.email or person.email_status in NO_MAIL:
        return
    token = voting.confirm_token(person_id=person.pk, slug=session.slug)
    link = site_url(reverse("qa:confirm", args=[token]))
    emails.confirm_email_send(to=person.email, session=session, link=link)
