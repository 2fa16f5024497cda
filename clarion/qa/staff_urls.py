from django.urls import path

from . import staff_views as views

app_name = "qa_staff"
urlpatterns = [
    path("", views.session_list, name="list"),
    path("new/", views.session_edit, name="create"),
    path("banned-words/", views.banned_words, name="banned_words"),
    path("<int:session_id>/", views.console, name="console"),
    path("<int:session_id>/edit/", views.session_edit, name="edit"),
    path("<int:session_id>/status/", views.session_status, name="status"),
    path("<int:session_id>/queue.json", views.queue_json, name="queue"),
    path("<int:session_id>/host/", views.host, name="host"),
    path("<int:session_id>/report/", views.report, name="report"),
    path("<int:session_id>/q/<int:question_id>/", views.question_open, name="question"),
    path(
        "<int:session_id>/q/<int:question_id>/<slug:action>/",
        views.question_action,
        name="question_action",
    ),
    path(
        "<int:session_id>/g/<int:group_id>/<slug:action>/", views.group_action, name="group_action"
    ),
]
