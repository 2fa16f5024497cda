"""URLs of the members' local pages (added to members/urls.py)."""

from django.urls import path

from . import local_views

urlpatterns: list = [
    path("local/", local_views.local, name="local"),
    path("actions/", local_views.actions, name="actions"),
    path("actions/recruiters-table/", local_views.recruiters_table, name="recruiters_table"),
]
