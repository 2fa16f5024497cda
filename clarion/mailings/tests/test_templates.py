"""Saved mailing templates: saving a mailing's content, starting a new mailing from
one, who sees and removes which (an organiser: national templates and their own area's;
a national template is removed by national staff only), and bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clarion.mailings.models import Mailing, MailingTemplate

from .helpers import make_mailing


@pytest.fixture
def north_template(areas, organiser):
    return MailingTemplate.objects.create(
        name="North welcome",
        subject="Welcome to the North, {{ first_name }}",
        body='Dear {{ first_name }}, {% if_segment "Donors" %}thanks{% endif_segment %}',
        area=areas.north,
        created_by=organiser,
    )


@pytest.fixture
def national_template(admin):
    return MailingTemplate.objects.create(
        name="National appeal", subject="Give today", body="Please give.", created_by=admin
    )


def test_saving_a_mailing_as_a_template_keeps_content_not_audience(client, admin, everyone):
    mailing = make_mailing(admin, everyone, preheader="Before Friday", category="fundraising")
    client.force_login(admin)
    url = reverse("mailings_staff:template_save", args=[mailing.pk])
    form = client.get(url)
    assert form.status_code == 200 and 'value="Library appeal"' in form.content.decode()
    response = client.post(url, {"name": "  Library appeal template  "})
    assert response.status_code == 302
    template = MailingTemplate.objects.get()
    assert template.name == "Library appeal template"
    assert (template.subject, template.preheader, template.body, template.category) == (
        mailing.subject,
        "Before Friday",
        mailing.body,
        "fundraising",
    )
    assert template.area is None and template.created_by == admin
    assert not hasattr(template, "segment")


def test_an_organisers_template_is_their_areas(client, organiser, areas, from_addresses):
    from clarion.people.models import Segment

    segment = Segment.objects.create(
        name="North", definition={"op": "all", "conditions": []}, owner_area=areas.north
    )
    mailing = make_mailing(organiser, segment, from_email="north@clarion.example.org")
    client.force_login(organiser)
    client.post(reverse("mailings_staff:template_save", args=[mailing.pk]), {"name": "Ours"})
    assert MailingTemplate.objects.get().area == areas.north


@pytest.mark.parametrize("name", ["", "   "])
def test_a_template_needs_a_name(client, admin, everyone, name):
    mailing = make_mailing(admin, everyone)
    client.force_login(admin)
    response = client.post(
        reverse("mailings_staff:template_save", args=[mailing.pk]), {"name": name}
    )
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert not MailingTemplate.objects.exists()


def test_a_long_name_is_a_form_error_not_a_crash(client, admin, everyone):
    mailing = make_mailing(admin, everyone)
    client.force_login(admin)
    url = reverse("mailings_staff:template_save", args=[mailing.pk])
    assert client.post(url, {"name": "x" * 151}).status_code == 400
    assert not MailingTemplate.objects.exists()


def test_starting_from_a_template_fills_the_content_only(client, organiser, north_template):
    client.force_login(organiser)
    page = client.get(reverse("mailings_staff:create") + f"?template={north_template.pk}")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="Welcome to the North, {{ first_name }}"' in html
    assert "Started from “North welcome”" in html
    assert Mailing.objects.count() == 0


def test_organisers_see_national_and_their_own_templates_only(
    client, organiser, south_organiser, north_template, national_template
):
    client.force_login(south_organiser)
    listing = client.get(reverse("mailings_staff:templates")).content.decode()
    assert "National appeal" in listing and "North welcome" not in listing
    page = client.get(reverse("mailings_staff:create") + f"?template={north_template.pk}")
    assert "Welcome to the North" not in page.content.decode()
    assert "That template is not available to you." in page.content.decode()
    url = reverse("mailings_staff:template_delete", args=[north_template.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    client.force_login(organiser)
    listing = client.get(reverse("mailings_staff:templates")).content.decode()
    assert "National appeal" in listing and "North welcome" in listing


@pytest.mark.parametrize("raw", ["abc", "-1", "99999999", "9" * 30, ""])
def test_a_bad_template_id_is_a_message_not_an_error(client, admin, raw):
    client.force_login(admin)
    page = client.get(reverse("mailings_staff:create") + f"?template={raw}")
    assert page.status_code == 200
    assert "That template is not available to you." in page.content.decode()


def test_removing_templates(client, organiser, admin, north_template, national_template):
    client.force_login(organiser)
    national = reverse("mailings_staff:template_delete", args=[national_template.pk])
    assert client.post(national).status_code == 403
    own = reverse("mailings_staff:template_delete", args=[north_template.pk])
    assert "Remove the template" in client.get(own).content.decode()
    assert client.post(own).status_code == 302
    assert list(MailingTemplate.objects.values_list("name", flat=True)) == ["National appeal"]
    client.force_login(admin)
    assert client.post(national).status_code == 302
    assert not MailingTemplate.objects.exists()


def test_analysts_see_templates_but_cannot_save_or_remove(
    client, analyst, admin, everyone, national_template
):
    mailing = make_mailing(admin, everyone)
    client.force_login(analyst)
    assert "National appeal" in client.get(reverse("mailings_staff:templates")).content.decode()
    url = reverse("mailings_staff:template_save", args=[mailing.pk])
    assert client.post(url, {"name": "Mine"}).status_code == 403
    delete = reverse("mailings_staff:template_delete", args=[national_template.pk])
    assert client.post(delete).status_code == 403
    assert MailingTemplate.objects.count() == 1
