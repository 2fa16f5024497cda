"""The api app's entries for the scope walk (core/tests/test_scope_walk.py)."""

from __future__ import annotations


def extend_world(w) -> None:
    from clarion.actions.models import ActionPage
    from clarion.actions.services import SubmissionInput, submission_record
    from clarion.api.models import Webhook, WebhookDelivery

    # A South letter page and a national survey the South person acted on, served as
    # Action Network advocacy campaigns (outreaches) and surveys (responses).
    w.south_letter = ActionPage.objects.create(
        slug="south-letter",
        title="Write to the South council",
        kind=ActionPage.Kind.LETTER,
        area=w.areas.bristol,
        status=ActionPage.Status.LIVE,
        target_name="Council leader",
        target_email="leader@council.example.org",
        letter_body="Please keep the Easton library open.",
    )
    w.national_survey = ActionPage.objects.create(
        slug="national-survey",
        title="What matters to you?",
        kind=ActionPage.Kind.SURVEY,
        status=ActionPage.Status.LIVE,
        questions=[{"key": "issue", "label": "Your issue", "kind": "text"}],
    )
    w.south_outreach = submission_record(
        page=w.south_letter,
        data=SubmissionInput(
            email=w.south.email,
            letter_subject="Easton library",
            letter_body="Signed, Zeb Southworthington",
        ),
    ).submission
    w.south_response = submission_record(
        page=w.national_survey,
        data=SubmissionInput(email=w.south.email, answers={"issue": "Southworthington buses"}),
    ).submission

    w.south_webhook = Webhook.objects.create(
        url="https://hooks.example.org/south", event_type=Webhook.EventType.SIGNATURE, secret="s"
    )
    w.south_delivery = WebhookDelivery.objects.create(
        webhook=w.south_webhook,
        event_type=Webhook.EventType.PERSON_SIGNUP,
        event_key=f"person_signup:{w.south.pk}",
        object_id=w.south.pk,
        person_id=w.south.pk,
        status=WebhookDelivery.Status.FAILED,
        last_error="HTTP 500",
    )


URL_KWARGS = {
    "api_staff:webhook_edit": lambda w: {"pk": w.south_webhook.pk},
    "api_staff:webhook_toggle": lambda w: {"pk": w.south_webhook.pk},
    "api_staff:webhook_secret": lambda w: {"pk": w.south_webhook.pk},
    "api_staff:webhook_delivery_retry": lambda w: {"pk": w.south_delivery.pk},
    "api:list": lambda w: {"list_id": w.plist.pk},
    "api:list_items": lambda w: {"list_id": w.plist.pk},
    "api:list_item": lambda w: {
        "list_id": w.plist.pk,
        "item_id": w.plist.memberships.get(person=w.south).pk,
    },
    "api:query": lambda w: {"query_id": w.south_segment.pk},
    "api:person_taggings": lambda w: {"person_id": w.south.pk},
    "api:person_tagging": lambda w: {
        "person_id": w.south.pk,
        "tagging_id": w.south.taggings.get().pk,
    },
    "api:advocacy_campaign": lambda w: {"advocacy_campaign_id": w.south_letter.pk},
    "api:outreaches": lambda w: {"advocacy_campaign_id": w.south_letter.pk},
    "api:outreach": lambda w: {
        "advocacy_campaign_id": w.south_letter.pk,
        "outreach_id": w.south_outreach.pk,
    },
    "api:person_outreaches": lambda w: {"person_id": w.south.pk},
    "api:person_outreach": lambda w: {
        "person_id": w.south.pk,
        "outreach_id": w.south_outreach.pk,
    },
    "api:survey": lambda w: {"survey_id": w.national_survey.pk},
    "api:responses": lambda w: {"survey_id": w.national_survey.pk},
    "api:response": lambda w: {
        "survey_id": w.national_survey.pk,
        "response_id": w.south_response.pk,
    },
    "api:person_responses": lambda w: {"person_id": w.south.pk},
    "api:person_response": lambda w: {
        "person_id": w.south.pk,
        "response_id": w.south_response.pk,
    },
}
