"""Banned phrases: a national list only admins edit, and per-area lists organisers
edit for their own subtree. A session uses the national list and those of its area
and every area above it."""

from __future__ import annotations

from django.urls import reverse

from clarion.qa.models import BannedPhrase

from .conftest import ask, make_session

URL = "qa_staff:banned_words"


def test_an_organiser_cannot_change_the_national_list_or_another_areas(
    client, organiser, admin, areas
):
    national = BannedPhrase.objects.create(phrase="traitor")
    southern = BannedPhrase.objects.create(phrase="southern slur", area=areas.south)
    client.force_login(organiser)

    assert client.post(reverse(URL), {"area": "", "phrase": "sellout"}).status_code == 403
    assert client.post(reverse(URL), {"area": "", "remove": national.pk}).status_code == 403
    assert (
        client.post(reverse(URL), {"area": areas.south.pk, "phrase": "north rules"}).status_code
        == 404
    )
    assert (
        client.post(reverse(URL), {"area": areas.south.pk, "remove": southern.pk}).status_code
        == 404
    )
    # Naming another area's phrase while posting to one's own list finds nothing either.
    assert (
        client.post(reverse(URL), {"area": areas.north.pk, "remove": southern.pk}).status_code
        == 404
    )
    assert client.get(reverse(URL) + f"?area={areas.south.pk}").status_code == 404
    assert sorted(BannedPhrase.objects.values_list("phrase", flat=True)) == [
        "southern slur",
        "traitor",
    ]

    # Their own subtree is theirs to edit; the national list they can read.
    response = client.post(reverse(URL), {"area": areas.leeds.pk, "phrase": "Leeds Slur"})
    assert response.status_code == 302
    assert BannedPhrase.objects.get(phrase="leeds slur").area == areas.leeds
    page = client.get(reverse(URL) + "?area=").content.decode()
    assert "traitor" in page and "Only national admins" in page

    client.force_login(admin)
    assert client.post(reverse(URL), {"area": "", "phrase": "liar"}).status_code == 302
    assert BannedPhrase.objects.filter(phrase="liar", area__isnull=True).exists()


def test_a_branch_session_uses_its_branch_region_and_national_phrases_not_a_siblings(areas):
    BannedPhrase.objects.create(phrase="nationalword")
    BannedPhrase.objects.create(phrase="regionword", area=areas.north)
    BannedPhrase.objects.create(phrase="branchword", area=areas.leeds_central)
    BannedPhrase.objects.create(phrase="siblingword", area=areas.south)
    BannedPhrase.objects.create(phrase="cousinword", area=areas.bristol_east)
    session = make_session(area=areas.leeds_central)

    def held(word, n):
        q = ask(session, email=f"p{n}@example.net", ip=f"10.3.0.{n}", text=f"What about {word}?")
        return "banned_word" in q.reasons

    assert held("nationalword", 1)
    assert held("regionword", 2)
    assert held("branchword", 3)
    assert not held("siblingword", 4)
    assert not held("cousinword", 5)
    # A national session uses the national list only.
    national = make_session()
    q = ask(national, email="n@example.net", text="What about regionword?")
    assert "banned_word" not in q.reasons
