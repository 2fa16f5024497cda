from django.urls import path

from . import views

app_name = "mailings"
urlpatterns = [
    path("u/", views.unsubscribe, name="unsubscribe"),
    path("p/", views.preferences, name="preferences"),
    path("o/", views.open_pixel, name="open"),
    path("c/", views.click, name="click"),
]
