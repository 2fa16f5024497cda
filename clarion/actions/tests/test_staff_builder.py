"""Staff: the action page builder as guided steps — publish and close ask first."""

from __future__ import annotations

from django.urls import reverse

from clarion.actions.models import ActionPage

from .conftest import make_page


def _url(name: str, page: ActionPage) -> str:
    return reverse(f"actions_staff:{name}", kwargs={"pk": page.pk})


def test_a_draft_offers_publish_as_its_one_primary_action(admin_client, db):
    draft = make_page(status=ActionPage.Status.DRAFT)
    html = admin_client.get(_url("detail", draft)).content.decode()
    assert f'<a class="button" href="{_url("publish", draft)}">Publish</a>' in html
    assert html.count('class="button"') == 1
    assert ">Close page<" not in html


def test_publish_asks_then_sets_the_page_live(admin_client, db):
    draft = make_page(status=ActionPage.Status.DRAFT)
    asked = admin_client.get(_url("publish", draft))
    assert asked.status_code == 200
    assert "Publish “Save the library”?" in asked.content.decode()
    draft.refresh_from_db()
    assert draft.status == ActionPage.Status.DRAFT
    done = admin_client.post(_url("publish", draft))
    assert done["Location"] == _url("detail", draft)
    draft.refresh_from_db()
    assert draft.status == ActionPage.Status.LIVE
    assert "The page is live." in admin_client.get(done["Location"]).content.decode()


def test_a_live_page_offers_close_which_asks_first(admin_client, db):
    live = make_page()
    html = admin_client.get(_url("detail", live)).content.decode()
    assert f'<a class="button button--danger" href="{_url("close", live)}">Close page</a>' in html
    assert ">Publish<" not in html
    asked = admin_client.get(_url("close", live)).content.decode()
    assert "Close “Save the library”?" in asked and "button--danger" in asked
    live.refresh_from_db()
    assert live.status == ActionPage.Status.LIVE
    admin_client.post(_url("close", live))
    live.refresh_from_db()
    assert live.status == ActionPage.Status.CLOSED


def test_publishing_a_live_page_again_changes_nothing(admin_client, db):
    live = make_page()
    response = admin_client.post(_url("publish", live), follow=True)
    assert "not a draft" in response.content.decode()
    live.refresh_from_db()
    assert live.status == ActionPage.Status.LIVE


def test_an_analyst_cannot_publish_and_another_area_cannot_see(
    client, analyst, south_organiser, areas
):
    draft = make_page(status=ActionPage.Status.DRAFT, area=areas.north)
    client.force_login(analyst)
    assert client.get(_url("publish", draft)).status_code == 403
    assert client.post(_url("publish", draft)).status_code == 403
    client.force_login(south_organiser)
    assert client.post(_url("publish", draft)).status_code == 404
    draft.refresh_from_db()
    assert draft.status == ActionPage.Status.DRAFT


# --- the kind first, then only that kind's fields ---------------------------------------


def test_a_new_page_starts_by_choosing_its_kind(admin_client, db):
    html = admin_client.get(reverse("actions_staff:create")).content.decode()
    assert "What kind of page?" in html
    for label in ("Petition", "Pledge", "Letter to a target", "Donation page"):
        assert label in html
    assert 'name="title"' not in html


def test_a_petition_form_has_only_a_petitions_fields(admin_client, db):
    html = admin_client.get(reverse("actions_staff:create") + "?kind=petition").content.decode()
    assert 'name="title"' in html and 'name="kind" value="petition"' in html
    for name in ("target_email", "letter_body", "amounts_text", "pledge_text", "questions_text"):
        assert f'name="{name}"' not in html
    assert 'name="status"' not in html  # a new page is a draft until published


def test_a_letter_form_asks_for_the_target(admin_client, db):
    html = admin_client.get(reverse("actions_staff:create") + "?kind=letter").content.decode()
    assert 'name="target_email"' in html and "Letter to a target details" in html
    assert 'name="amounts_text"' not in html


def test_fields_of_another_kind_are_ignored(admin_client, db):
    admin_client.post(
        reverse("actions_staff:create"),
        {
            "kind": "petition",
            "title": "Fix the roads",
            "consent_wording": "Email me",
            "next_step": "share",
            "target_email": "mayor@example.org",
            "pledge_text": "walk",
        },
    )
    page = ActionPage.objects.get()
    assert (page.kind, page.status) == ("petition", "draft")
    assert page.target_email == "" and page.pledge_text == ""


def test_editing_keeps_the_kind_and_shows_status(admin_client, db):
    letter = make_page(kind=ActionPage.Kind.LETTER, target_email="mayor@example.org")
    html = admin_client.get(_url("edit", letter)).content.decode()
    assert 'name="target_email"' in html and 'name="status"' in html
    assert 'name="kind"' not in html


# --- the web address from the title ------------------------------------------------------


def _create(client, title: str, **extra):
    data = {
        "kind": "petition",
        "title": title,
        "consent_wording": "Email me",
        "next_step": "share",
    }
    return client.post(reverse("actions_staff:create"), {**data, **extra})


def test_an_empty_web_address_is_made_from_the_title_and_kept_unique(admin_client, db):
    assert _create(admin_client, "Save Our Buses!").status_code == 302
    assert _create(admin_client, "Save our buses").status_code == 302
    slugs = sorted(ActionPage.objects.values_list("slug", flat=True))
    assert slugs == ["save-our-buses", "save-our-buses-2"]


def test_a_typed_web_address_is_kept_and_a_taken_one_is_a_form_error(admin_client, db):
    assert _create(admin_client, "Buses", slug="buses-now").status_code == 302
    taken = _create(admin_client, "Other", slug="buses-now")
    assert taken.status_code == 400
    assert "already exists" in taken.content.decode()


def test_an_organiser_builds_a_page_in_their_area_without_choosing_one(organiser_client, areas):
    assert _create(organiser_client, "North buses", area=areas.north.pk).status_code == 302
    assert ActionPage.objects.get().area == areas.north


# --- the error summary -------------------------------------------------------------------


def test_errors_are_summarised_at_the_top_with_links_to_the_fields(admin_client, db):
    response = admin_client.post(
        reverse("actions_staff:create"),
        {"kind": "letter", "title": "", "consent_wording": "Email me", "next_step": "share"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    summary = html[
        html.index('class="error-summary"') : html.index("</div>", html.index("error-summary"))
    ]
    assert "There is a problem" in summary
    assert '<a href="#id_title">Title: This field is required.</a>' in summary
    assert '<a href="#id_target_email">' in summary
    assert html.index("error-summary") < html.index('name="title"')
    assert 'id="id_title_error"' in html  # and still beside the field


def test_the_mailing_composer_shows_the_summary(admin_client, areas):
    response = admin_client.post(reverse("mailings_staff:create"), {"name": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'class="error-summary"' in html and '<a href="#id_name">' in html


def test_the_event_form_shows_the_summary(admin_client, areas):
    response = admin_client.post(
        reverse("events_staff:create"),
        {
            "title": "",
            "shifts-TOTAL_FORMS": "0",
            "shifts-INITIAL_FORMS": "0",
            "questions-TOTAL_FORMS": "0",
            "questions-INITIAL_FORMS": "0",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'class="error-summary"' in html and '<a href="#id_title">' in html
