from django.urls import path

from . import views

urlpatterns = [
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/count/", views.segment_count_json, name="segment_count"),
    path("segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/copy/", views.segment_copy, name="segment_copy"),
    path("segments/<int:pk>/delete/", views.segment_remove, name="segment_delete"),
]
