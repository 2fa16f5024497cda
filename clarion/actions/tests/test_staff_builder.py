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
