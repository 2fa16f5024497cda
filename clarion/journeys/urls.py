from django.urls import path

from . import views

app_name = "journeys_staff"
urlpatterns = [
    path("", views.journey_list, name="list"),
    path("<int:pk>/", views.journey_detail, name="detail"),
    path("<int:pk>/status/", views.journey_status, name="status"),
    path("<int:pk>/steps/", views.journey_steps, name="steps"),
    path("<int:pk>/duplicate/", views.journey_duplicate, name="duplicate"),
    path("<int:pk>/test/", views.journey_test, name="test"),
    path("<int:pk>/trigger/", views.journey_trigger, name="trigger"),
    path("todos/", views.todo_list, name="todos"),
    path("todos/<int:pk>/", views.todo_mark, name="todo_mark"),
]
