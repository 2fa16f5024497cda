from django.urls import path

from . import views

app_name = "areas"

urlpatterns = [
    path("", views.area_list, name="list"),
    path("upload/", views.area_upload, name="upload"),
    path("<int:pk>/", views.area_detail, name="detail"),
    path("<int:pk>/group/", views.group_page_edit, name="group_edit"),
]
