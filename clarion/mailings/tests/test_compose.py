"""What a recipient's mail client gets: inlined CSS in a mobile-friendly layout, an
automatic plain-text part, merge fields, and blocks shown by segment."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clarion.core.testing.smtp import body_html, body_text
from clarion.mailings import selectors, services
from clarion.mailings.models import Mailing
from clarion.mailings.sending import render
from clarion.mailings.sending.compose import CompiledMailing
from clarion.people.models import Segment

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]

SEGMENT_BODY = (
    'Dear {{ first_name|default:"friend" }},\n\n'
    '{% if_segment "Southerners" %}Come to the Easton stall.{% else %}Come to the Leeds stall.{% endif_segment %}\n'
)
TABLE_BODY = (
    "<p>Stalls:</p><table><tr><td>Sun</td><td>Online</td></tr>"
    "{% if_segment 'Southerners' %}<tr><td>Sat</td><td>Easton</td></tr>{% end %}</table>"
)


@pytest.fixture
def southerners(areas):
    return Segment.objects.create(
        name="Southerners",
        definition={"op": "all", "conditions": [{"type": "area", "area": "R-S"}]},
    )


def test_html_part_is_inlined_and_mobile_friendly_with_a_text_part(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    send_and_work(make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks)
    nora = smtp_server.to("nora@example.net")[0]
    html = body_html(nora)
    # The layout's rules are copied onto the elements, so clients that drop <style> still
    # get the width, font and colours; the media query for small screens stays.
    assert '<div class="wrap" style="' in html and "max-width: 600px" in html
    assert '<body style="' in html and "font-family: Helvetica" in html
    assert '<a href="https://clarion.example.org/m/c/' in html and "color: #b5121b" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media only screen and (max-width:620px)" in html
    # The plain-text part is made automatically, links kept readable.
    text = body_text(nora)
    assert "Dear Nora," in text and "<p" not in text
    assert "Sign the petition (https://clarion.example.org/m/c/?r=" in text
    assert "Unsubscribe: https://clarion.example.org/m/u/?r=" in text


def test_merge_fields_of_the_issue_are_filled(
    admin, areas, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.actions.models import ActionPage
    from clarion.donations.models import Donation

    nora = subscribed["nora"]
    nora.share_code = "NORA1"
    nora.save(update_fields=["share_code"])
    nell = subscribed["nell"]
    nell.recruiter = nora
    nell.save(update_fields=["recruiter"])
    page = ActionPage.objects.create(
        slug="fund", title="Fund", kind=ActionPage.Kind.DONATION, status=ActionPage.Status.LIVE
    )
    Donation.objects.create(
        person=nora, page=page, amount_pence=2500, status="succeeded", gateway="test"
    )
    body = (
        'Hi {{ first_name|default:"friend" }} in {{ area }}. You recruited {{ recruit_count }}. '
        "Last time you gave {{ last_gift }}. Share: {{ share_link }}"
    )
    send_and_work(
        make_mailing(admin, everyone, body=body), admin, django_capture_on_commit_callbacks
    )
    text = body_text(smtp_server.wait_for(3) and smtp_server.to("nora@example.net")[0])
    assert "Hi Nora in City Ward. You recruited 1. Last time you gave £25.00." in text
    assert "Share: https://clarion.example.org/?ref=NORA1" in text


def test_first_name_default_covers_a_blank_name(
    admin, areas, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.core.testing import factories
    from clarion.people.services import email_status_set

    p = factories.person(postcode=areas.postcodes["north"], first_name="", email="anon@example.net")
    email_status_set(person=p, status="subscribed")
    send_and_work(make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks)
    assert "Dear friend," in body_text(smtp_server.wait_for(1)[0])


def test_segment_blocks_show_each_person_their_own_text(
    admin, subscribed, everyone, southerners, smtp_server, django_capture_on_commit_callbacks
):
    send_and_work(
        make_mailing(admin, everyone, body=SEGMENT_BODY), admin, django_capture_on_commit_callbacks
    )
    smtp_server.wait_for(3)
    sid, nora = smtp_server.to("sid@example.net")[0], smtp_server.to("nora@example.net")[0]
    assert "Come to the Easton stall." in body_text(sid) and "Leeds stall" not in body_text(sid)
    assert "Come to the Leeds stall." in body_text(nora) and "Easton stall" not in body_text(nora)


def test_segment_block_between_table_rows_stays_in_the_table(
    admin, subscribed, everyone, southerners, smtp_server, django_capture_on_commit_callbacks
):
    send_and_work(
        make_mailing(admin, everyone, body=TABLE_BODY, body_format="html"),
        admin,
        django_capture_on_commit_callbacks,
    )
    smtp_server.wait_for(3)
    sid_html = body_html(smtp_server.to("sid@example.net")[0])
    nora_html = body_html(smtp_server.to("nora@example.net")[0])
    assert sid_html.index("<table") < sid_html.index("Easton</td>") < sid_html.index("</table>")
    assert "Easton</td>" not in nora_html and "Online</td>" in nora_html


def test_segment_membership_is_computed_once_per_mailing(admin, subscribed, everyone, southerners):
    mailing = make_mailing(admin, everyone, body=SEGMENT_BODY)
    services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    compiled = CompiledMailing(Mailing.objects.get(pk=mailing.pk))
    ids = [p.pk for p in subscribed.values()]
    first = compiled.segment_flags(ids[:1])
    with CaptureQueriesContext(connection) as later:
        rest = compiled.segment_flags(ids[1:])
    assert len(later.captured_queries) == 0  # later batches reuse the membership
    flags = {**first, **rest}
    assert flags[subscribed["sid"].pk] == {"segment_0": True}
    assert flags[subscribed["nora"].pk] == {"segment_0": False}


def test_unknown_segment_in_a_block_blocks_the_send(admin, subscribed, everyone):
    mailing = make_mailing(
        admin, everyone, body='{% if_segment "Nobody here" %}x{% endif_segment %}'
    )
    problems = selectors.mailing_problems(mailing, admin)
    assert "There is no segment called “Nobody here” (used in an if_segment block)." in problems


def test_organiser_cannot_use_a_segment_outside_their_scope_in_a_block(organiser, areas):
    Segment.objects.create(
        name="South only", owner_area=areas.south, definition={"op": "all", "conditions": []}
    )
    assert selectors.segment_block_problems(
        ['{% if_segment "South only" %}x{% endif_segment %}'], organiser
    ) == ["There is no segment called “South only” (used in an if_segment block)."]


def test_segment_block_syntax_errors_are_reported():
    assert render.template_problems('{% if_segment "A" %}open') != []
    assert render.template_problems('{% if_segment "A" %}x{% else %}y{% endif_segment %}') == []
    assert render.segment_names("{% if_segment 'A' %}{% end %}{% if_segment \"B\" %}{% end %}") == [
        "A",
        "B",
    ]
