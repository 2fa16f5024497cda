"""Spam, floods and hostile input: clear answers, never a 500, nothing half-written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clarion.actions.models import Submission
from clarion.actions.selectors import page_count
from clarion.core.hashing import ip_hash
from clarion.people.models import Person

from .test_submit import sign


def test_post_without_csrf_token_is_refused(petition):
    client = Client(enforce_csrf_checks=True)
    response = sign(client, petition)
    assert response.status_code == 403
    assert not Submission.objects.exists()


def test_post_with_csrf_token_from_the_page_is_accepted(petition):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("actions:page", kwargs={"slug": petition.slug}))
    token = page.context["csrf_token"]
    response = sign(client, petition, csrfmiddlewaretoken=str(token))
    assert response.status_code == 302
    assert Submission.objects.count() == 1


def test_honeypot_looks_like_success_but_records_nothing(client, petition):
    response = sign(client, petition, website="http://spam.example")
    assert response.status_code == 302
    assert not Submission.objects.exists()
    assert not Person.objects.filter(email="ada@example.net").exists()


def test_flood_from_one_ip_gets_a_friendly_429(client, petition, settings):
    settings.CLARION_ACTION_IP_LIMIT = 3
    for n in range(3):
        assert sign(client, petition, email=f"f{n}@example.net").status_code == 302
    response = sign(client, petition, email="f9@example.net")
    assert response.status_code == 429
    assert "Please wait a moment" in response.content.decode()
    assert response["Retry-After"]
    assert Submission.objects.count() == 3


def test_one_email_hammering_gets_a_429(client, petition, settings):
    settings.CLARION_ACTION_EMAIL_LIMIT = 2
    for _ in range(2):
        sign(client, petition, email="same@example.net")
    response = sign(client, petition, email="SAME+x@example.net")
    assert response.status_code == 429


@pytest.mark.parametrize("name", ['=HYPERLINK("x")', "+44", "-1", "@SUM(A1)"])
def test_formula_names_are_rejected_with_a_clear_error(client, petition, name):
    response = sign(client, petition, first_name=name)
    assert response.status_code == 400
    assert "can&#x27;t start with =, +, - or @" in response.content.decode()
    assert not Submission.objects.exists()


def test_script_tags_are_refused_in_names_and_escaped_elsewhere(client, petition):
    petition.ask_comment = True
    petition.save()
    response = sign(client, petition, first_name="<script>alert(1)</script>")
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert "can&#x27;t contain &lt; or &gt;" in response.content.decode()
    ok = sign(client, petition, comment="<script>alert(1)</script>", show_name="on")
    assert ok.status_code == 302
    assert Submission.objects.get().comment == "<script>alert(1)</script>"


def test_huge_fields_get_errors_not_500(client, petition):
    response = sign(client, petition, first_name="A" * 5000, email=("b" * 300) + "@example.net")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Ensure this value has at most 100 characters" in html
    assert "Ensure this value has at most 254 characters" in html


def test_a_body_over_the_upload_limit_is_a_400(client, petition, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = sign(client, petition, first_name="A" * 2000)
    assert response.status_code == 400
    assert not Submission.objects.exists()


def test_bad_encoding_and_nul_bytes_get_errors(client, petition):
    url = reverse("actions:page", kwargs={"slug": petition.slug})
    body = b"first_name=%C3%28%FF&last_name=x&email=bad%40example.net"
    response = client.post(url, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "characters we can" in response.content.decode()
    nul = sign(client, petition, first_name="Ada\x00", email="nul@example.net")
    assert nul.status_code == 400
    assert not Submission.objects.exists()


def test_hostile_query_parameters_do_not_break_the_page(client, petition):
    url = reverse("actions:page", kwargs={"slug": petition.slug})
    response = client.get(
        url, {"ref": "x" * 500, "mt": "\x00", "source": "<script>", "utm_source": "é" * 300}
    )
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("<main")[1].split("actions.js")[0]
    thanks = client.get(reverse("actions:thanks", kwargs={"slug": petition.slug}), {"p": "garbage"})
    assert thanks.status_code == 200
    assert (
        client.get(
            reverse("actions:next", kwargs={"slug": petition.slug}), {"p": "%%%"}
        ).status_code
        == 302
    )
    bad = client.get(reverse("actions:confirm", kwargs={"slug": petition.slug, "token": "nope"}))
    assert bad.status_code == 400


def test_invalid_email_gets_a_clear_error(client, petition):
    response = sign(client, petition, email="not-an-email")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address" in html
    assert 'aria-describedby="id_email_error"' in html
    assert 'aria-invalid="true"' in html


def test_staff_invalidate_by_ip_recounts(admin_client, petition, client):
    for n in range(4):
        sign(client, petition, email=f"bot{n}@example.net", extra={"REMOTE_ADDR": "10.0.0.9"})
    sign(client, petition, email="real@example.net", extra={"REMOTE_ADDR": "10.0.0.1"})
    assert page_count(petition) == 5
    url = reverse("actions_staff:invalidate", kwargs={"pk": petition.pk})
    preview = admin_client.post(url, {"ip": "10.0.0.9", "reason": "flood"})
    assert "4 counted or pending submissions match" in preview.content.decode()
    assert Submission.objects.filter(status="confirmed").count() == 5
    done = admin_client.post(url, {"ip": "10.0.0.9", "reason": "flood", "confirm": "yes"})
    assert done.status_code == 302
    assert page_count(petition) == 1
    assert set(Submission.objects.filter(status="invalid").values_list("ip_hash", flat=True)) == {
        ip_hash("10.0.0.9")
    }
    dashboard = admin_client.get(reverse("actions_staff:detail", kwargs={"pk": petition.pk}))
    assert "4 invalidated" in dashboard.content.decode()


def test_staff_invalidate_by_domain_and_time_window(admin_client, petition, client):
    sign(client, petition, email="a@throwaway.test")
    sign(client, petition, email="b@throwaway.test")
    sign(client, petition, email="c@example.net")
    Submission.objects.filter(email_canonical="b@throwaway.test").update(
        created_at=timezone.now() - timedelta(days=2)
    )
    url = reverse("actions_staff:invalidate", kwargs={"pk": petition.pk})
    since = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    admin_client.post(
        url, {"email_domain": "@Throwaway.test", "since": since, "reason": "spam", "confirm": "yes"}
    )
    assert list(
        Submission.objects.filter(status="invalid").values_list("email_canonical", flat=True)
    ) == ["a@throwaway.test"]
    assert page_count(petition) == 2


def test_invalidate_needs_a_filter(admin_client, petition):
    url = reverse("actions_staff:invalidate", kwargs={"pk": petition.pk})
    response = admin_client.post(url, {"reason": "x", "confirm": "yes"})
    assert response.status_code == 400
    assert "Choose an IP address, an email domain or a time window" in response.content.decode()
