"""Demo action pages, one of every kind (``clarion load_demo`` calls ``demo_pages_create``)."""

from __future__ import annotations

from .models import ActionPage
from .services import page_save

PAGES = [
    dict(
        kind=ActionPage.Kind.PETITION,
        slug="save-our-library",
        title="Save our library",
        summary="The council wants to close the Central Library. Tell them to keep it open.",
        body="Our library is used by **4,000 people a week**.\n\n- Homework club\n- Job search help\n- Warm space",
        goal=5000,
        share_text="I signed to save our library. Will you?",
    ),
    dict(
        kind=ActionPage.Kind.PLEDGE,
        slug="pledge-to-vote",
        title="Pledge to vote",
        pledge_text="vote on polling day and bring a friend",
        goal=2000,
    ),
    dict(
        kind=ActionPage.Kind.SIGNUP,
        slug="volunteer",
        title="Volunteer with us",
        questions=[
            {
                "key": "help",
                "label": "How can you help?",
                "kind": "multi",
                "choices": ["Leafleting", "Phone banking", "Social media"],
                "required": True,
                "custom_field": "",
            },
            {
                "key": "drive",
                "label": "Can you drive?",
                "kind": "yesno",
                "required": False,
                "custom_field": "",
            },
        ],
    ),
    dict(
        kind=ActionPage.Kind.LETTER,
        slug="write-to-the-council",
        title="Write to the council leader",
        target_name="Cllr Jo Leader",
        target_role="Leader of the Council",
        target_email="leader@council.example",
        letter_subject="Keep the buses running",
        letter_body="Dear Cllr Leader,\n\nPlease keep the 42 bus running. I rely on it.\n\nYours sincerely,",
    ),
    dict(
        kind=ActionPage.Kind.SURVEY,
        slug="priorities-survey",
        title="What matters most to you?",
        questions=[
            {
                "key": "issue",
                "label": "Top issue",
                "kind": "choice",
                "choices": ["Housing", "Transport", "Health", "Climate"],
                "required": True,
                "custom_field": "",
            },
            {
                "key": "why",
                "label": "Tell us why",
                "kind": "text",
                "required": False,
                "custom_field": "",
            },
        ],
    ),
    dict(
        kind=ActionPage.Kind.DONATION,
        slug="fund-the-campaign",
        title="Fund the campaign",
        summary="Every pound goes to leaflets and local organising.",
        suggested_amounts=[500, 1000, 2500, 5000],
    ),
]


def demo_pages_create() -> list[ActionPage]:
    """Create the demo pages that do not exist yet (idempotent); link the petition's
    next step to the donation page."""
    made = []
    for fields in PAGES:
        page = ActionPage.objects.filter(slug=fields["slug"]).first()
        if page is None:
            page = page_save(page=ActionPage(status=ActionPage.Status.LIVE, **fields))
        made.append(page)
    petition, donation = made[0], made[-1]
    if petition.next_page_id is None:
        petition.next_step = ActionPage.NextStep.DONATE
        petition.next_page = donation
        page_save(page=petition)
    return made
