from django.urls import path  # noqa: F401

app_name = "donations_staff"
urlpatterns: list = []
