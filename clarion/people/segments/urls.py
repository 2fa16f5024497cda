from django.urls import path

from . import views

urlpatterns = [
    path("segments/", views.segment_list, name="segment_list"),
]
