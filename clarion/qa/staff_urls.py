from django.urls import path  # noqa: F401

app_name = "qa_staff"
urlpatterns: list = []
