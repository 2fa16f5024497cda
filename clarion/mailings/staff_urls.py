from django.urls import path

from . import staff_views as views

app_name = "mailings_staff"
urlpatterns = [
    path("", views.mailing_list, name="list"),
    path("new/", views.mailing_create, name="create"),
    path("<int:pk>/", views.mailing_detail, name="detail"),
    path("<int:pk>/edit/", views.mailing_edit, name="edit"),
    path("<int:pk>/preview/", views.mailing_preview, name="preview"),
    path("<int:pk>/preview/frame/", views.mailing_preview_frame, name="preview_frame"),
    path("<int:pk>/test/", views.mailing_test, name="test"),
    path("<int:pk>/send/", views.mailing_send, name="send"),
    path("<int:pk>/unschedule/", views.mailing_unschedule, name="unschedule"),
    path("<int:pk>/control/", views.mailing_control, name="control"),
    path("<int:pk>/winner/", views.mailing_winner, name="winner"),
    path("<int:pk>/save-template/", views.template_save, name="template_save"),
    path("templates/", views.template_list, name="templates"),
    path("templates/<int:pk>/delete/", views.template_delete, name="template_delete"),
    path("from-addresses/", views.from_address_list, name="from_addresses"),
    path("from-addresses/<int:pk>/delete/", views.from_address_delete, name="from_address_delete"),
    path("categories/", views.category_list, name="categories"),
    path("categories/<int:pk>/", views.category_edit, name="category_edit"),
    path("categories/<int:pk>/delete/", views.category_delete, name="category_delete"),
]
