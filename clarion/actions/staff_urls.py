from django.urls import path

from . import staff_views as views

app_name = "actions_staff"
urlpatterns = [
    path("", views.page_list, name="list"),
    path("new/", views.page_create, name="create"),
    path("<int:pk>/", views.page_detail, name="detail"),
    path("<int:pk>/edit/", views.page_edit, name="edit"),
    path("<int:pk>/preview/", views.page_preview, name="preview"),
    path("<int:pk>/duplicate/", views.page_duplicate, name="duplicate"),
    path("<int:pk>/publish/", views.page_publish, name="publish"),
    path("<int:pk>/close/", views.page_close, name="close"),
    path("<int:pk>/invalidate/", views.page_invalidate, name="invalidate"),
    path("<int:pk>/results/", views.page_results, name="results"),
    path("<int:pk>/export/", views.page_export, name="export"),
    path("<int:pk>/segment/", views.page_segment, name="segment"),
]
