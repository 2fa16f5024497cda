from django.urls import path

from . import staff_views as views

app_name = "events_staff"
urlpatterns = [
    path("", views.event_list, name="list"),
    path("new/", views.event_create, name="create"),
    path("approvals/", views.approvals, name="approvals"),
    path("<int:pk>/", views.event_detail, name="detail"),
    path("<int:pk>/edit/", views.event_edit, name="edit"),
    path("<int:pk>/check-in/", views.event_checkin, name="checkin"),
    path("<int:pk>/check-in/find/", views.checkin_find, name="checkin_find"),
    path("<int:pk>/check-in/<int:rsvp_id>/", views.rsvp_attendance, name="attendance"),
    path("<int:pk>/walk-in/", views.walkin, name="walkin"),
    path("<int:pk>/canvass/", views.canvass, name="canvass"),
    path("<int:pk>/message/", views.message, name="message"),
    path("<int:pk>/sign-in-sheet/", views.sheet, name="sheet"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/decline/", views.decline, name="decline"),
    path("<int:pk>/export/", views.event_export, name="export"),
    path("<int:pk>/segment/", views.event_segment, name="segment"),
]
