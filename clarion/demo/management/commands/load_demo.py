"""``clarion load_demo``: a small, believable organisation for trying Clarion out.

Runs once: if the demo admin already exists it does nothing (``--force`` is not offered
on purpose; delete ``var/`` to start again).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from clarion.areas.models import Area
from clarion.areas.services import areas_load_csv, postcodes_load_csv
from clarion.core.demo import DEMO_ADMIN, DEMO_PASSWORD
from clarion.core.models import User
from clarion.demo.history import demo_history_create
from clarion.people.models import Person

FIXTURES = Path(__file__).resolve().parents[3] / "areas" / "fixtures"
# How many of the demo's people are members.
MEMBERS = 40


class Command(BaseCommand):
    help = (
        "Load the demo organisation (areas, staff, ~2,000 people, tags, segments, pages, "
        "events, a year of history) once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=2000)

    def handle(self, *args, people: int, **options):
        admin = User.objects.filter(email=DEMO_ADMIN).first()
        if admin is not None:
            # A demo loaded by an older Clarion gets what was added since (idempotent).
            self._top_up(admin)
            self.stdout.write("Demo data already loaded.")
            self._print_login()
            return
        # One transaction: a failure part-way leaves no half-loaded demo behind.
        with transaction.atomic():
            self._load(people)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self._print_login()

    def _load(self, people: int) -> None:
        from clarion.actions.demo import demo_pages_create
        from clarion.events.demo import demo_events_create
        from clarion.people.demo import demo_segments_create

        if not Area.objects.exists():
            areas_load_csv(text=(FIXTURES / "demo_areas.csv").read_text())
            postcodes_load_csv(text=(FIXTURES / "demo_postcodes.csv").read_text())
        north = Area.objects.get(code="R-N")
        admin = User.objects.create_superuser(DEMO_ADMIN, DEMO_PASSWORD, name="Demo Admin")
        User.objects.create_user(
            "north@example.org",
            DEMO_PASSWORD,
            name="Nadia North",
            role=User.Role.ORGANISER,
            area=north,
        )
        User.objects.create_user(
            "analyst@example.org", DEMO_PASSWORD, name="Ana Lyst", role=User.Role.ANALYST
        )
        call_command("seed_people", count=people, tags=40, seed=2026, stdout=self.stdout)
        demo_segments_create()
        demo_pages_create()
        demo_events_create()
        self._top_up(admin)

    def _top_up(self, admin: User) -> None:
        from clarion.mailings.demo import demo_from_addresses_create

        demo_from_addresses_create(actor=admin)
        self._membership_types()
        self._volunteering_choices()
        self._memberships(admin)
        # Once: the history's past events are its marker (see demo_history_create).
        if demo_history_create():
            self.stdout.write("Added a year of history (actions, past events, gifts).")

    def _membership_types(self) -> None:
        """The demo's ways to be a member, so the Join page has something to offer."""
        from clarion.members.models import MembershipType

        for order, (name, pence, period) in enumerate(
            (("Standard", 500, "monthly"), ("Reduced", 200, "monthly"), ("Annual", 5000, "annual"))
        ):
            MembershipType.objects.get_or_create(
                name=name, defaults={"rate_pence": pence, "period": period, "order": order}
            )

    def _memberships(self, admin: User) -> None:
        """Once: some of the demo's people are members (paid by hand, so no provider is
        needed), a few in arrears or lapsed, so the membership pages have something to
        count. The people with the lowest ids that have an area and an email."""
        from clarion.members import membership as lifecycle
        from clarion.members.models import Membership, MembershipType

        if Membership.objects.exists():
            return
        types = list(MembershipType.objects.order_by("order"))
        people = Person.objects.filter(area__isnull=False).exclude(email="").order_by("pk")
        today = timezone.localdate()
        for n, person in enumerate(people[:MEMBERS]):
            started = today - dt.timedelta(days=11 + 9 * n)
            membership = lifecycle.membership_join(
                person=person,
                membership_type=types[n % len(types)],
                pays_by="manual",
                started_at=started,
                actor=admin,
            )
            if n % 8 in (3, 6):  # one in four: in arrears, or lapsed
                lifecycle.membership_staff_change(
                    membership=membership,
                    actor=admin,
                    reason="Demo: a payment did not arrive",
                    status="grace" if n % 8 == 3 else "lapsed",
                    membership_type=membership.membership_type,
                    renews_on=today - dt.timedelta(days=3),
                )

    def _volunteering_choices(self) -> None:
        """What members may tick on their Volunteering page (tags; adding twice is harmless)."""
        from clarion.people.volunteering import volunteer_choices_add

        for key, labels in (
            ("skill", ("First aid", "Driving", "Design", "Data entry", "Speaking Welsh")),
            ("interest", ("Door knocking", "Phone banking", "Running events", "Social media")),
            ("availability", ("Weekday evenings", "Weekends", "Weekday daytime")),
        ):
            volunteer_choices_add(list_key=key, labels=labels)

    def _print_login(self):
        self.stdout.write(
            f"Log in as {DEMO_ADMIN} / {DEMO_PASSWORD} (national admin) "
            f"or north@example.org / {DEMO_PASSWORD} (organiser, the North only)."
        )
