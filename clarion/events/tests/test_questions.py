"""Host questions: defined by staff or the member host, asked on the RSVP form,
stored per RSVP and shown in the attendee lists and on the person's timeline."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clarion.core.testing import factories
from clarion.events.models import Answer, Question, Rsvp
from clarion.events.selectors import host_token
from clarion.events.services import RsvpInput, rsvp_create
from clarion.people.models import Activity

from .conftest import make_event, rsvp_post
from .test_staff import event_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(areas):
    event = make_event(area=areas.leeds_central, title="Phone bank night")
    diet = Question.objects.create(
        event=event, text="Any dietary needs?", required=False, position=2
    )
    role = Question.objects.create(
        event=event,
        text="What would you like to do?",
        required=True,
        choices="Call voters\nMake tea",
        position=1,
    )
    return event, role, diet


def test_rsvp_form_asks_the_questions_and_keeps_the_answers(client, organiser_client, asked):
    event, role, diet = asked
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert "What would you like to do?" in page and "Make tea" in page
    assert page.index("What would you like to do?") < page.index("Any dietary needs?")
    response = rsvp_post(
        client,
        event,
        postcode="LS1 4AP",
        **{f"question_{role.pk}": "Make tea", f"question_{diet.pk}": "Vegan <b>please</b>"},
    )
    assert response.status_code == 302
    rsvp = Rsvp.objects.get()
    assert dict(rsvp.answers.values_list("question__text", "value")) == {
        "What would you like to do?": "Make tea",
        "Any dietary needs?": "Vegan <b>please</b>",
    }
    manage = client.get(response["Location"]).content.decode()
    assert "Your answers" in manage and "Make tea" in manage
    staff = organiser_client.get(
        reverse("events_staff:detail", kwargs={"pk": event.pk})
    ).content.decode()
    assert "Any dietary needs?" in staff and "Vegan &lt;b&gt;please&lt;/b&gt;" in staff
    timeline = organiser_client.get(
        reverse("people:detail", kwargs={"person_id": rsvp.person_id})
    ).content.decode()
    assert "What would you like to do? Make tea" in timeline
    entry = Activity.objects.get(person=rsvp.person, summary__startswith="RSVP")
    assert entry.data["answers"] == {str(role.pk): "Make tea", str(diet.pk): "Vegan <b>please</b>"}


def test_a_required_question_must_be_answered(client, asked):
    event, role, _diet = asked
    response = rsvp_post(client, event)
    assert response.status_code == 400
    assert "Please answer this question." in response.content.decode()
    assert not Rsvp.objects.exists()
    with pytest.raises(ValidationError) as exc:
        rsvp_create(event=event, data=RsvpInput(email="a@example.net"))
    assert f"question_{role.pk}" in exc.value.message_dict


def test_a_choice_answer_must_be_one_of_the_choices(client, asked):
    event, role, _diet = asked
    response = rsvp_post(client, event, **{f"question_{role.pk}": "Run the country"})
    assert response.status_code == 400
    assert not Rsvp.objects.exists()
    with pytest.raises(ValidationError) as exc:
        rsvp_create(
            event=event, data=RsvpInput(email="a@example.net", answers={role.pk: "Run the country"})
        )
    assert exc.value.message_dict[f"question_{role.pk}"] == ["Choose one of the options."]


def test_answers_change_through_the_manage_link(client, asked):
    event, role, diet = asked
    response = rsvp_post(client, event, **{f"question_{role.pk}": "Call voters"})
    manage = response["Location"]
    form = client.get(manage).content.decode()
    assert "Change my RSVP" in form and 'value="Call voters" selected' in form
    changed = client.post(
        manage,
        {
            "action": "change",
            "guests": "0",
            f"question_{role.pk}": "Make tea",
            f"question_{diet.pk}": "No nuts",
        },
    )
    assert changed.status_code == 302
    rsvp = Rsvp.objects.get()
    assert dict(rsvp.answers.values_list("question_id", "value")) == {
        role.pk: "Make tea",
        diet.pk: "No nuts",
    }
    assert Activity.objects.filter(
        person=rsvp.person, summary__contains="Any dietary needs? No nuts"
    ).exists()
    missing = client.post(manage, {"action": "change", "guests": "0"})
    assert missing.status_code == 400
    assert Answer.objects.filter(rsvp=rsvp).count() == 2


def test_staff_define_questions_on_the_edit_page(organiser_client, areas):
    event = make_event(area=areas.leeds_central)
    url = reverse("events_staff:edit", kwargs={"pk": event.pk})
    data = event_form(
        area=areas.leeds_central.pk,
        **{
            "shifts-TOTAL_FORMS": "0",
            "shifts-INITIAL_FORMS": "0",
            "questions-TOTAL_FORMS": "2",
            "questions-INITIAL_FORMS": "0",
            "questions-0-text": "T-shirt size?",
            "questions-0-required": "on",
            "questions-0-choices": "S\nM",
            "questions-0-position": "1",
            "questions-1-text": "Anything else?",
            "questions-1-choices": "Only one",
            "questions-1-position": "2",
        },
    )
    bad = organiser_client.post(url, data)
    assert bad.status_code == 400
    assert "Give at least two choices" in bad.content.decode()
    data["questions-1-choices"] = ""
    assert organiser_client.post(url, data).status_code == 302
    assert list(event.questions.values_list("text", "required", "choices")) == [
        ("T-shirt size?", True, "S\nM"),
        ("Anything else?", False, ""),
    ]


def test_member_host_defines_questions_through_the_host_link(client, areas):
    host = factories.person(postcode=areas.postcodes["north"], first_name="Hal")
    event = make_event(area=areas.leeds_central, host_person=host)
    token = host_token(event)
    url = reverse("events:host_questions", kwargs={"pk": event.pk, "token": token})
    assert "Questions for people who RSVP" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "questions-TOTAL_FORMS": "1",
            "questions-INITIAL_FORMS": "0",
            "questions-0-text": "Can you bring a car?",
            "questions-0-position": "0",
        },
    )
    assert response.status_code == 302
    assert "Questions saved." in client.get(response["Location"]).content.decode()
    assert event.questions.get().text == "Can you bring a car?"
    assert "Can you bring a car?" in client.get(f"/events/{event.pk}/").content.decode()
    forged = reverse("events:host_questions", kwargs={"pk": event.pk, "token": "forged"})
    assert client.post(forged, {"questions-TOTAL_FORMS": "0"}).status_code == 404
