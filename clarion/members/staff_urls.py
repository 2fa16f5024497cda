from django.urls import path

from . import staff_views, volunteer_views

app_name = "members_staff"
urlpatterns = [
    path("", staff_views.overview, name="overview"),
    path("<int:person_id>/", staff_views.change, name="change"),
    path("types/", staff_views.types, name="types"),
    path("types/<int:pk>/", staff_views.type_edit, name="type_edit"),
    path("volunteering/", volunteer_views.staff_choices, name="volunteering"),
]
