from __future__ import annotations

from django.core.management import call_command

from clarion.mailings import services
from clarion.mailings.models import Mailing

BODY = (
    'Dear {{ first_name|default:"friend" }},\n\n'
    "We need you in {{ area }}. [Sign the petition](https://clarion.example.org/act/save-the-library/)\n\n"
    "{% if recruit_count %}You brought {{ recruit_count }} friends.{% endif %}"
)


def make_mailing(user, segment, **fields) -> Mailing:
    data = {
        "name": "Library appeal",
        "subject": "{{ first_name|default:'Friend' }}, save the library",
        "from_name": "Clarion HQ",
        "from_email": "hq@clarion.example.org",
        "body": BODY,
        "segment": segment,
        "category": Mailing.Category.NEWS,
    }
    data.update(fields)
    return services.mailing_save(mailing=Mailing(**data), actor=user)


def run_tasks(capture, rounds: int = 6) -> None:
    """Run queued tasks until none is ready. Tasks enqueue follow-ups in on_commit,
    which inside a test's transaction only fire when captured, so run in rounds."""
    from django_tasks_db.models import DBTaskResult

    for _ in range(rounds):
        with capture(execute=True):
            call_command("worker", "--batch")
        if not DBTaskResult.objects.ready().exists():
            return


def send_and_work(mailing, user, capture) -> Mailing:
    with capture(execute=True):
        services.mailing_send(mailing=mailing, actor=user)
    run_tasks(capture)
    mailing.refresh_from_db()
    return mailing
