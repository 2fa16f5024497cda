"""Staff: page builder, preview, duplicate, close, dashboard, results; area scope."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from clarion.actions.models import ActionPage, Submission
from clarion.core.models import AuditEntry

from .conftest import make_page
from .test_submit import sign

BASE = {
    "kind": "petition",
    "title": "Fix the roads",
    "slug": "fix-the-roads",
    "status": "live",
    "summary": "Potholes everywhere.",
    "body": "# Heading\n\nPlease **sign**. <script>alert(1)</script>",
    "goal": "500",
    "consent_wording": "Email me",
    "next_step": "share",
    "currency": "GBP",
    "ask_postcode": "on",
}


def png_upload() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 0, 0)).save(out, format="PNG")
    return SimpleUploadedFile("hero.png", out.getvalue(), content_type="image/png")


def test_admin_builds_a_page_with_markdown_hero_and_video(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = {
        **BASE,
        "video_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "hero_alt": "A pothole",
        "hero_image": png_upload(),
    }
    response = admin_client.post(reverse("actions_staff:create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    page = ActionPage.objects.get(slug="fix-the-roads")
    assert page.status == ActionPage.Status.DRAFT
    admin_client.post(reverse("actions_staff:publish", kwargs={"pk": page.pk}))
    assert "<strong>sign</strong>" in page.body_html
    assert "<script>" not in page.body_html
    assert page.hero_image.name.startswith("actions/hero/")
    public = admin_client.get("/act/fix-the-roads/")
    html = public.content.decode()
    assert 'src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"' in html
    assert 'alt="A pothole"' in html
    assert (
        "frame-src https://www.youtube-nocookie.com https://player.vimeo.com"
        in public["Content-Security-Policy"]
    )


def test_vimeo_and_bad_video_addresses(admin_client):
    ok = admin_client.post(
        reverse("actions_staff:create"), {**BASE, "video_url": "https://vimeo.com/76979871"}
    )
    assert ok.status_code == 302
    admin_client.post(ok["Location"] + "publish/")
    assert (
        "https://player.vimeo.com/video/76979871"
        in admin_client.get("/act/fix-the-roads/").content.decode()
    )
    bad = admin_client.post(
        reverse("actions_staff:create"),
        {**BASE, "slug": "other", "video_url": "https://evil.example/x.mp4"},
    )
    assert bad.status_code == 400
    assert "Give a YouTube or Vimeo video address." in bad.content.decode()


def test_page_without_video_keeps_the_strict_csp(client, petition):
    response = client.get("/act/save-the-library/")
    assert "frame-src" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_preview_shows_a_draft_and_duplicate_makes_a_draft_copy(admin_client):
    page = make_page(slug="draft-one", status=ActionPage.Status.DRAFT, title="Draft one")
    assert admin_client.get("/act/draft-one/").status_code == 404
    preview = admin_client.get(reverse("actions_staff:preview", kwargs={"pk": page.pk}))
    assert preview.status_code == 200
    assert "Preview: this is how the page looks" in preview.content.decode()
    response = admin_client.post(reverse("actions_staff:duplicate", kwargs={"pk": page.pk}))
    copy = ActionPage.objects.exclude(pk=page.pk).get()
    assert response["Location"] == reverse("actions_staff:edit", kwargs={"pk": copy.pk})
    assert (copy.slug, copy.title, copy.status) == ("draft-one-copy", "Copy of Draft one", "draft")


def test_close_stops_actions(admin_client, client, petition):
    admin_client.post(reverse("actions_staff:close", kwargs={"pk": petition.pk}))
    petition.refresh_from_db()
    assert petition.status == ActionPage.Status.CLOSED and petition.closed_at
    assert "This page is closed" in client.get("/act/save-the-library/").content.decode()


def test_dashboard_shows_actions_sources_referrers_recruits_and_next_step(
    admin_client, client, petition
):
    sign(client, petition, source="leaflet", referrer="https://news.example.com/a")
    ada = Submission.objects.get().person
    sign(client, petition, email="b@example.net", ref=ada.share_code)
    Submission.objects.filter(person=ada).update(next_step_at=ada.created_at)
    html = admin_client.get(
        reverse("actions_staff:detail", kwargs={"pk": petition.pk})
    ).content.decode()
    assert "leaflet: 1" in html
    assert "news.example.com: 1" in html
    assert f'href="/staff/people/{ada.pk}/"' in html  # top recruiter
    assert "50.0%" in html  # one of two followed the next step
    assert "&lt;iframe src=" in html and "/act/save-the-library/embed/" in html


def test_survey_results_tally_answers(admin_client, client):
    survey = make_page(
        kind=ActionPage.Kind.SURVEY,
        slug="priorities",
        title="Priorities",
        questions=[
            {
                "key": "top",
                "label": "Top issue",
                "kind": "choice",
                "choices": ["Housing", "Transport"],
            },
            {"key": "why", "label": "Why?", "kind": "text"},
        ],
    )
    sign(client, survey, q_top="Housing", q_why="Rents <b>too</b> high")
    sign(client, survey, email="b@example.net", q_top="Housing")
    sign(client, survey, email="c@example.net", q_top="Transport")
    html = admin_client.get(
        reverse("actions_staff:results", kwargs={"pk": survey.pk})
    ).content.decode()
    assert "3 counted responses" in html
    assert '<th scope="row">Housing</th><td class="num">2</td>' in html
    assert "Rents &lt;b&gt;too&lt;/b&gt; high" in html


def test_builder_rejects_bad_questions_and_missing_settings(admin_client):
    response = admin_client.post(
        reverse("actions_staff:create"),
        {
            **BASE,
            "kind": "survey",
            "questions_text": "Pick one | choice | only-one",
        },
    )
    assert response.status_code == 400
    assert "give at least two choices" in response.content.decode()
    letter = admin_client.post(reverse("actions_staff:create"), {**BASE, "kind": "letter"})
    assert "A letter page needs the target" in letter.content.decode()


def test_organiser_sees_only_pages_in_their_area(organiser_client, areas, client):
    north_page = make_page(slug="north-page", title="North page", area=areas.leeds)
    south_page = make_page(slug="south-page", title="South page", area=areas.bristol)
    listing = organiser_client.get(reverse("actions_staff:list")).content.decode()
    assert "North page" in listing and "South page" not in listing
    for name in ("detail", "edit", "preview", "results", "invalidate"):
        assert (
            organiser_client.get(
                reverse(f"actions_staff:{name}", kwargs={"pk": south_page.pk})
            ).status_code
            == 404
        )
    assert (
        organiser_client.get(
            reverse("actions_staff:detail", kwargs={"pk": north_page.pk})
        ).status_code
        == 200
    )


def test_dashboard_names_only_recruiters_in_scope(organiser, client, areas, south_person):
    page = make_page(slug="north-page", area=areas.leeds)
    sign(client, page, email="x@example.net", ref=south_person.share_code)
    client.force_login(organiser)
    html = client.get(reverse("actions_staff:detail", kwargs={"pk": page.pk})).content.decode()
    assert "Sid South" not in html


def test_analyst_cannot_change_pages(client, analyst, petition):
    client.force_login(analyst)
    assert (
        client.get(reverse("actions_staff:detail", kwargs={"pk": petition.pk})).status_code == 200
    )
    assert (
        client.post(reverse("actions_staff:close", kwargs={"pk": petition.pk})).status_code == 403
    )
    assert (
        client.post(reverse("actions_staff:edit", kwargs={"pk": petition.pk}), BASE).status_code
        == 403
    )
    assert client.get(reverse("actions_staff:create")).status_code == 403


def test_invalidation_is_audited(admin_client, client, petition):
    sign(client, petition)
    admin_client.post(
        reverse("actions_staff:invalidate", kwargs={"pk": petition.pk}),
        {"email_domain": "example.net", "reason": "test", "confirm": "yes"},
    )
    assert AuditEntry.objects.filter(summary__startswith="Invalidated 1 submissions").exists()


def test_staff_pages_need_login(client, petition):
    response = client.get(reverse("actions_staff:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]
