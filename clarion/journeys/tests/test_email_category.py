"""An email step's category is one of staff's email categories, or none (general
mail); settings saved with the old fixed list ("news") keep working."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clarion.journeys import services
from clarion.journeys.models import Journey, Step
from clarion.journeys.steps import EmailForm
from clarion.mailings.models import EmailCategory

from .conftest import THANKS, email_config, make_journey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("from_addresses")]


def one_email(config) -> list[dict]:
    return [{"key": "hello", "type": "email", "config": config}]


def test_the_category_menu_is_staffs_list_with_general_mail_first(admin):
    EmailCategory.objects.create(key="branch-news", name="Branch news", order=9)
    choices = EmailForm().fields["category"].choices
    assert choices[0][0] == ""
    assert "general mail" in str(choices[0][1])
    assert [key for key, _ in choices[1:]] == list(
        EmailCategory.objects.values_list("key", flat=True)
    )
    assert ("branch-news", "Branch news") in choices


def test_a_staff_defined_category_is_the_standing_mailings(admin):
    EmailCategory.objects.create(key="branch-news", name="Branch news")
    make_journey(admin, one_email(email_config(category="branch-news")))
    step = Step.objects.get()
    assert step.config["category"] == "branch-news"
    assert step.mailing.category == "branch-news"


def test_no_category_is_general_mail(admin):
    make_journey(admin, one_email(email_config(category="")))
    step = Step.objects.get()
    assert step.config["category"] == ""
    assert step.mailing.category == ""
    assert step.mailing.get_category_display() == "General"


def test_a_category_staff_do_not_offer_is_a_clear_error(admin):
    with pytest.raises(ValidationError) as exc:
        make_journey(admin, one_email(email_config(category="gossip")))
    assert "Step 1 (Send an email): Category:" in " ".join(exc.value.messages)
    assert "gossip" in " ".join(exc.value.messages)
    assert not Journey.objects.exists()


def test_old_settings_with_news_or_no_category_still_mean_news(admin):
    without = {k: v for k, v in THANKS.items() if k != "category"}
    make_journey(
        admin,
        [
            {"key": "old", "type": "email", "config": email_config(category="news"), "next": "x"},
            {"key": "x", "type": "email", "config": without},
        ],
    )
    steps = Step.objects.order_by("position")
    assert [s.config["category"] for s in steps] == ["news", "news"]
    assert [s.mailing.category for s in steps] == ["news", "news"]


def test_a_saved_step_with_news_publishes_as_news_even_if_its_config_predates_the_key(admin):
    # A step stored before the category was always written: news, as it was.
    journey = make_journey(admin, one_email(email_config()), publish=False)
    step = Step.objects.get()
    step.config.pop("category")
    step.save(update_fields=["config"])
    services.journey_set_status(journey=journey, actor=admin, move="publish")
    assert Step.objects.get().mailing.category == "news"


def test_without_a_news_category_missing_means_general_mail(admin):
    EmailCategory.objects.filter(key="news").delete()
    without = {k: v for k, v in THANKS.items() if k != "category"}
    make_journey(admin, one_email(without))
    assert Step.objects.get().config["category"] == ""
