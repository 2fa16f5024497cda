from django.urls import path

from . import people

urlpatterns = [
    path("", people.person_list, name="list"),
]
