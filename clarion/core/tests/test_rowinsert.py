"""``insert_row`` writes exactly what ``save(force_insert=True)`` writes."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from clarion.actions.models import ActionPage, Submission
from clarion.actions.services import page_save
from clarion.core import rowinsert
from clarion.core.rowinsert import insert_row
from clarion.core.testing import factories


def _page(slug="rows"):
    return page_save(
        page=ActionPage(kind=ActionPage.Kind.PETITION, slug=slug, title="Rows", status="live")
    )


NOW = timezone.now().replace(microsecond=123456)


def _row(page, email, **fields):
    now = NOW
    values = {
        "page": page,
        "email_canonical": email,
        "email_domain": email.rpartition("@")[2],
        "status": Submission.Status.CONFIRMED,
        "answers": {"q": ["a", "ü"], "n": 3},
        "submitted": {"first_name": "Zoë", "last_name": "O'Brien", "postcode": "LS1 4AP"},
        "comment": "Line one\nline two — “quoted”",
        "show_name": True,
        "consent_given": True,
        "consent_wording": "Keep me updated",
        "source": "email",
        "referrer": "https://example.org/a?b=c",
        "referrer_domain": "example.org",
        "utm": {"utm_source": "x"},
        "mailing_token": "",
        "embedded": False,
        "ip_hash": "ab" * 16,
        "user_agent": "Mozilla/5.0",
        "created_at": now,
        "confirmed_at": now,
        "intake": {"email": email, "share_code": "abc", "custom_fields": {"d": "1970-01-01"}},
    }
    values.update(fields)
    return Submission(**values)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": Submission.Status.PENDING, "confirmed_at": None, "intake": {}},
        {"answers": {}, "utm": {}, "comment": "", "show_name": False, "consent_given": False},
        {"created_at": timezone.now() - datetime.timedelta(days=400)},
    ],
)
def test_the_row_equals_what_save_writes(areas, fields):
    page = _page()
    person = factories.person(email="p@example.net")
    saved = _row(page, "saved@example.net", person=person, **fields)
    saved.save(force_insert=True)
    fast = insert_row(_row(page, "fast@example.net", person=person, **fields))
    assert fast.pk is not None and fast.pk != saved.pk
    assert not fast._state.adding and fast._state.db == "default"
    a = model_to_dict(Submission.objects.get(pk=saved.pk))
    b = model_to_dict(Submission.objects.get(pk=fast.pk))
    for d in (a, b):
        d.pop("id"), d.pop("email_canonical"), d.pop("intake")
    assert a == b
    stored = Submission.objects.get(pk=fast.pk)
    assert stored.intake == fast.intake and stored.email_canonical == "fast@example.net"


def test_a_clash_raises_and_writes_nothing_and_the_savepoint_holds(areas):
    page = _page()
    insert_row(_row(page, "same@example.net"))
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic():
            insert_row(_row(page, "same@example.net"))
        insert_row(_row(page, "other@example.net"))
    assert Submission.objects.filter(page=page).count() == 2


def test_the_statement_is_built_once_and_models_it_would_get_wrong_are_refused(areas):
    page = _page()
    insert_row(_row(page, "one@example.net"))
    built = rowinsert._statements[(Submission, "default")]
    insert_row(_row(page, "two@example.net"))
    assert rowinsert._statements[(Submission, "default")] is built
    sql, fields = built
    assert sql.count("%s") == len(fields) and "id" not in [f.column for f in fields]
    # ActionPage has post_save receivers (the per-process page copies): refused.
    with pytest.raises(TypeError, match="save signals"):
        insert_row(ActionPage(kind=ActionPage.Kind.PETITION, slug="x", title="X"))
