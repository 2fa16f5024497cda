from django.urls import path

from . import index, views

app_name = "qa"
urlpatterns = [
    path("", index.session_index, name="index"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("<slug:slug>/", views.session_page, name="session"),
    path("<slug:slug>/ask/", views.ask, name="ask"),
    path("<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("<slug:slug>/live.json", views.live_json, name="live"),
    path("<slug:slug>/present/", views.present, name="present"),
    path("<slug:slug>/vote/<int:question_id>/", views.vote, name="vote"),
    path("<slug:slug>/confirm/", views.confirm_request, name="confirm_request"),
]
