"""My actions and recruits: what the member signed and gave, newest first and paged;
the people they brought in, by first name and initial only; the area's opt-in
recruiters' table. A member sees nothing of another member's but what that member
chose to show."""

from __future__ import annotations

import datetime

from django.utils import timezone

from clarion.actions.models import ActionPage, Submission
from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.donations.models import Donation
from clarion.members.models import RecruitersTableOptIn
from clarion.people.models import Person

from .conftest import sign_in


def _page(slug, kind=ActionPage.Kind.PETITION, title=None):
    return ActionPage.objects.create(
        kind=kind, slug=slug, title=title or slug.replace("-", " ").title(), status="live"
    )


def _act(person, page, *, days_ago=0, status=Submission.Status.CONFIRMED, recruiter=None):
    return Submission.objects.create(
        page=page,
        person=person,
        email_canonical=f"{person.pk}-{page.pk}@example.net",
        email_domain="example.net",
        status=status,
        recruiter=recruiter,
        created_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def _give(person, page, pence, *, days_ago=0, refunded=0, monthly=False, status=None):
    at = timezone.now() - datetime.timedelta(days=days_ago)
    return Donation.objects.create(
        page=page,
        person=person,
        amount_pence=pence,
        refunded_pence=refunded,
        status=status or (Donation.Status.REFUNDED if refunded else Donation.Status.SUCCEEDED),
        recurring=monthly,
        gateway="test",
        created_at=at,
        succeeded_at=at,
    )


def _recruit(recruiter, first_name, last_name, **fields):
    person = factories.person(first_name=first_name, last_name=last_name, **fields)
    Person.objects.filter(pk=person.pk).update(recruiter=recruiter)
    return person


def _text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_signed_and_given_newest_first_with_amounts(member_client, member, north_person):
    library = _page("save-the-library")
    pledge = _page("pledge-to-vote", ActionPage.Kind.PLEDGE)
    fund = _page("winter-fund", ActionPage.Kind.DONATION, "Winter fund")
    _act(member, library, days_ago=10)
    _act(member, pledge, days_ago=1, status=Submission.Status.PENDING)
    _give(member, fund, 1250, days_ago=5)
    _give(member, fund, 500, days_ago=3, refunded=500)
    _give(member, fund, 900, days_ago=2, status=Donation.Status.FAILED)
    # Another supporter's action and gift never show.
    _act(north_person, _page("someone-elses-petition"))
    _give(north_person, fund, 777_00)

    page = _text(member_client.get("/members/actions/"))
    order = [
        page.index("Pledge To Vote"),
        page.index("£5.00"),
        page.index("£12.50"),
        page.index("Save The Library"),
    ]
    assert order == sorted(order)
    assert "Waiting for you to confirm by email" in page and "Pledged" not in page
    assert "£5.00 refunded" in page
    assert "£9.00" not in page  # a failed payment is not a gift
    assert "Someone Elses Petition" not in page and "£777.00" not in page
    assert "/act/save-the-library/" in page


def test_activity_is_paged(member_client, member):
    for n in range(23):
        _act(member, _page(f"page-{n:02d}"), days_ago=n)
    first = _text(member_client.get("/members/actions/"))
    assert "Page 00" in first and "Page 19" in first and "Page 20" not in first
    assert "Page 1 of 2" in first and "?page=2#done" in first
    second = _text(member_client.get("/members/actions/", {"page": "2"}))
    assert "Page 20" in second and "Page 22" in second and "Page 19" not in second
    # A page number that is not one is the first or the last page, never an error.
    assert "Page 00" in _text(member_client.get("/members/actions/", {"page": "x"}))
    assert "Page 22" in _text(member_client.get("/members/actions/", {"page": "99"}))


def test_recruits_shown_by_first_name_and_initial_only(member_client, member, north_person):
    _recruit(member, "Priya", "Sharma", email="priya@example.net")
    _recruit(member, "tom", "o'neill", email="tom@example.net")
    _recruit(north_person, "Zed", "Other")
    library = _page("save-the-library")
    _act(factories.person(), library, recruiter=member)

    page = _text(member_client.get("/members/actions/"))
    assert "You brought in 2 people." in page
    assert "1 action was taken through your share links." in page
    assert "Priya S." in page and "tom O." in page
    assert "Sharma" not in page and "neill" not in page
    assert "priya@example.net" not in page and "tom@example.net" not in page
    assert "Zed" not in page


def test_recruiters_table_shows_only_opted_in_members_of_the_same_area(client, member, areas):
    # The member's area is the branch (City Ward). Three recruiters there, one of
    # them not opted in; one opted-in recruiter in the South.
    ann = factories.person(first_name="Ann", last_name="Able", postcode=areas.postcodes["north2"])
    bob = factories.person(first_name="Bob", last_name="Brown", postcode=areas.postcodes["north"])
    cy = factories.person(first_name="Cy", last_name="Coy", postcode=areas.postcodes["north"])
    sue = factories.person(first_name="Sue", last_name="South", postcode=areas.postcodes["south"])
    for recruiter, n in ((ann, 3), (bob, 1), (cy, 5), (sue, 9), (member, 2)):
        for i in range(n):
            _recruit(recruiter, f"R{recruiter.pk}x{i}", "Recruit")
    for person in (ann, bob, sue):
        RecruitersTableOptIn.objects.create(person=person)
    sign_in(client, member)

    page = _text(client.get("/members/actions/"))
    table = page.split('id="recruiters-table"', 1)[1]
    assert table.index("Ann A.") < table.index("Bob B.")
    assert "Cy C." not in table  # brought in most, but did not opt in
    assert "Sue S." not in table  # another area
    assert "Mo M." not in table and "Show me in the table" in table

    response = client.post("/members/actions/recruiters-table/", {"show": "yes"})
    assert response.status_code == 302
    assert response["Location"] == "/members/actions/#recruiters-table"
    table = _text(client.get("/members/actions/")).split('id="recruiters-table"', 1)[1]
    assert table.index("Ann A.") < table.index("Mo M.") < table.index("Bob B.")
    assert "Take me out of the table" in table
    entry = AuditEntry.objects.get(detail__event="member_recruiters_table")
    assert entry.object_id == str(member.pk) and entry.detail["shown"] is True

    # Posting again changes nothing; leaving removes the row.
    client.post("/members/actions/recruiters-table/", {"show": "yes"})
    assert RecruitersTableOptIn.objects.filter(person=member).count() == 1
    client.post("/members/actions/recruiters-table/", {"show": "no"})
    assert not RecruitersTableOptIn.objects.filter(person=member).exists()
    assert "Mo M." not in _text(client.get("/members/actions/"))


def test_table_choice_changes_only_the_signed_in_members_row(member_client, member, north_person):
    RecruitersTableOptIn.objects.create(person=north_person)
    # Naming another person in the form does nothing to them.
    for data in ({"show": "no", "person": north_person.pk}, {"show": "no"}):
        member_client.post("/members/actions/recruiters-table/", data)
    assert RecruitersTableOptIn.objects.filter(person=north_person).exists()
    bad = member_client.post("/members/actions/recruiters-table/", {"show": "maybe"})
    assert bad.status_code == 302
    assert "Choose whether to show you" in _text(member_client.get("/members/actions/"))
    assert member_client.get("/members/actions/recruiters-table/").status_code == 405


def test_signed_out_visitors_are_sent_to_sign_in(client, member):
    for url in ("/members/actions/", "/members/local/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/members/sign-in/"
    response = client.post("/members/actions/recruiters-table/", {"show": "yes"})
    assert response.status_code == 302 and response["Location"] == "/members/sign-in/"
    assert not RecruitersTableOptIn.objects.exists()


def test_member_pages_are_not_cached(member_client):
    response = member_client.get("/members/actions/")
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_no_area_means_no_table(client, areas):
    nowhere = factories.person(first_name="Nia", last_name="Where", email="nia@example.net")
    assert nowhere.area_id is None
    sign_in(client, nowhere)
    page = _text(client.get("/members/actions/"))
    assert "We don't know your area yet" in page
    assert "Show me in the table" not in page


def test_page_costs_a_fixed_number_of_queries(
    member_client, member, areas, django_assert_max_num_queries
):
    fund = _page("winter-fund", ActionPage.Kind.DONATION)
    for n in range(30):
        _act(member, _page(f"page-{n:02d}"), days_ago=n)
        _give(member, fund, 100 + n, days_ago=n)
    for n in range(30):
        recruiter = factories.person(postcode=areas.postcodes["north"])
        RecruitersTableOptIn.objects.create(person=recruiter)
        _recruit(recruiter, f"Rec{n}", "Ruit")
        _recruit(member, f"Mine{n}", "Ruit")
    RecruitersTableOptIn.objects.create(person=member)
    member_client.get("/members/actions/")  # the session's last-seen write settles
    with django_assert_max_num_queries(10):
        page = _text(member_client.get("/members/actions/"))
    assert page.count('class="card"') >= 20 and "Mine29 R." in page
    with django_assert_max_num_queries(10):
        _text(member_client.get("/members/actions/", {"page": "3"}))


def test_the_table_choice_is_exported_erased_and_merged(member, admin, areas):
    from clarion.core import privacy
    from clarion.people.services import person_erase, person_merge

    RecruitersTableOptIn.objects.create(person=member)
    exported = privacy.export_person(member)["members"]["recruiters_table"]
    assert len(exported) == 1 and exported[0]["shown_since"]

    duplicate = factories.person(postcode=areas.postcodes["north"], email="mo.two@example.net")
    RecruitersTableOptIn.objects.create(person=duplicate)
    person_merge(survivor=member, duplicate=duplicate, actor=admin)
    assert list(RecruitersTableOptIn.objects.values_list("person_id", flat=True)) == [member.pk]

    # The app's eraser removes it itself (not only the cascade when the person goes).
    from clarion.members import privacy as members_privacy

    members_privacy.erase(member)
    assert not RecruitersTableOptIn.objects.exists()
    RecruitersTableOptIn.objects.create(person=member)
    person_erase(person=member, actor=admin)
    assert not RecruitersTableOptIn.objects.exists()
