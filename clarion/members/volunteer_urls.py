"""URLs of the member's volunteering page (added to members/urls.py)."""

from django.urls import path

from . import volunteer_views

urlpatterns: list = [
    path("volunteering/", volunteer_views.volunteering_page, name="volunteering"),
]
