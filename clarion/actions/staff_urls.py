from django.urls import path  # noqa: F401

app_name = "actions_staff"
urlpatterns: list = []
