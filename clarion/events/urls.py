from django.urls import path

from . import views

app_name = "events"
urlpatterns = [
    path("", views.find, name="find"),
    path("propose/", views.propose, name="propose"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/event.ics", views.event_ics, name="ics"),
    path("<int:pk>/rsvp/<str:token>/", views.manage, name="manage"),
    path("<int:pk>/rsvp/<str:token>/shifts.ics", views.manage_ics, name="manage_ics"),
    path("<int:pk>/host/<str:token>/", views.host, name="host"),
    path(
        "<int:pk>/host/<str:token>/checkin/<int:rsvp_id>/", views.host_checkin, name="host_checkin"
    ),
    path("<int:pk>/host/<str:token>/walk-in/", views.host_walkin, name="host_walkin"),
    path("<int:pk>/host/<str:token>/find/", views.host_find, name="host_find"),
    path("<int:pk>/host/<str:token>/canvass/", views.host_canvass, name="host_canvass"),
    path("<int:pk>/host/<str:token>/message/", views.host_message, name="host_message"),
    path("<int:pk>/host/<str:token>/sign-in-sheet/", views.host_sheet, name="host_sheet"),
    path("<int:pk>/host/<str:token>/questions/", views.host_questions, name="host_questions"),
    path("area/<int:area_id>/calendar.ics", views.area_feed, name="area_feed"),
]
