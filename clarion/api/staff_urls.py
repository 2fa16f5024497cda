from django.urls import path

from . import staff_views

app_name = "api_staff"

urlpatterns = [
    path("keys/", staff_views.key_list, name="keys"),
    path("keys/new/", staff_views.key_create, name="key_create"),
    path("keys/<int:pk>/revoke/", staff_views.key_revoke, name="key_revoke"),
]
