from django.urls import path

from . import views

urlpatterns = [
    path("imports/", views.import_list, name="import_list"),
    path("imports/new/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/rejects/", views.import_rejects, name="import_rejects"),
    path("imports/<int:pk>/file/", views.import_file, name="import_file"),
    path("export/", views.people_export, name="export_csv"),
]
