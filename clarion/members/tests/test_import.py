"""``clarion import_members``: per-row errors by line, nothing half-written, numbers
kept and the counter raised past them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.members.membership import membership_join
from clarion.members.models import Membership
from clarion.people.models import MembershipStatus, Person

pytestmark = pytest.mark.django_db

HEADER = "email,membership number,type name,renews_on,status\n"


def run(tmp_path, body: str, *args):
    path = tmp_path / "members.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    out, err = _Buffer(), _Buffer()
    code = 0
    try:
        call_command("import_members", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.text, err.text


class _Buffer:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


@pytest.fixture
def people(areas):
    return [
        factories.person(postcode=areas.postcodes["north"], email=f"m{i}@example.net")
        for i in range(3)
    ]


def test_good_rows_are_stored_and_bad_ones_reported_by_line(tmp_path, people, standard, annual):
    code, out, err = run(
        tmp_path,
        "m0@example.net,1041,Standard,2027-01-31,active\n"
        "nobody@example.net,1042,Standard,2027-01-31,active\n"
        "m1@example.net,abc,Platinum,31/13/2027,dormant\n"
        "M2@Example.net,17,annual,15/06/2026,lapsed\n",
    )
    assert code == 1
    assert out.strip() == "2 stored, 2 refused"
    lines = err.strip().splitlines()
    assert lines[0].startswith("line 3: no person has the email 'nobody@example.net'")
    assert lines[1].startswith("line 4: ")
    for problem in ("'abc' is not a whole number", "'Platinum'", "'dormant'", "not a date"):
        assert problem in lines[1]
    m0 = Membership.objects.get(person=people[0])
    assert (m0.number, m0.status, m0.renews_on) == (1041, "active", dt.date(2027, 1, 31))
    p0 = Person.objects.get(pk=people[0].pk)
    assert (p0.membership_number, p0.membership_status) == ("1041", MembershipStatus.ACTIVE)
    m2 = Membership.objects.get(person=people[2])
    assert (m2.number, m2.membership_type, m2.status) == (17, annual, "lapsed")
    assert not Membership.objects.filter(person=people[1]).exists()
    assert AuditEntry.objects.filter(action="import", detail__stored=2).exists()
    # New members are numbered after the highest imported number.
    newcomer = factories.person(email="new@example.net")
    assert membership_join(person=newcomer, membership_type=standard, pays_by="manual").number == (
        1042
    )


def test_a_number_someone_else_holds_is_refused_whole(tmp_path, people, standard):
    membership_join(person=people[0], membership_type=standard, pays_by="manual")
    code, out, err = run(tmp_path, "m1@example.net,1,Standard,2027-01-01,active\n")
    assert code == 1 and "belongs to someone else" in err
    assert Person.objects.get(pk=people[1].pk).membership_number is None
    assert not Membership.objects.filter(person=people[1]).exists()


def test_running_the_same_file_again_updates_rather_than_duplicates(tmp_path, people, standard):
    body = "m0@example.net,500,Standard,2027-01-01,active\n"
    assert run(tmp_path, body)[0] == 0
    code, out, _ = run(tmp_path, "m0@example.net,500,Standard,2027-02-01,grace\n")
    assert code == 0 and out.strip() == "1 stored, 0 refused"
    m = Membership.objects.get()
    assert (m.status, m.renews_on) == ("grace", dt.date(2027, 2, 1)) and m.grace_until


def test_dry_run_writes_nothing(tmp_path, people, standard):
    code, out, _ = run(tmp_path, "m0@example.net,9,Standard,2027-01-01,active\n", "--dry-run")
    assert code == 0 and out.strip() == "1 would be stored, 0 refused"
    assert not Membership.objects.exists()
    assert Person.objects.get(pk=people[0].pk).membership_number is None


def test_a_file_without_the_columns_is_refused(tmp_path, people):
    path = tmp_path / "wrong.csv"
    path.write_text("email,number\nm0@example.net,1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="lacks the column"):
        call_command("import_members", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_members", str(tmp_path / "missing.csv"))
    assert not Membership.objects.exists()
