from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.engagement import services
from clarion.people.models import Activity


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Each test reads the settings row of its own database, not a cached one."""
    services.settings_forget()
    yield
    services.settings_forget()


@pytest.fixture
def entry():
    """Write a timeline entry ``days`` ago and fold it as the after-commit listener would."""

    def make(person, kind, data=None, *, days=0.0, fold=True):
        activity = Activity.objects.create(
            person=person,
            kind=kind,
            summary="test",
            data=data or {},
            created_at=timezone.now() - datetime.timedelta(days=days),
        )
        if fold:
            services.activity_fold(activity)
        return activity

    return make
