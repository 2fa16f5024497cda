from django.urls import path

from . import views, webhooks

app_name = "mailings"
urlpatterns = [
    path("u/", views.unsubscribe, name="unsubscribe"),
    path("p/", views.preferences, name="preferences"),
    path("o/", views.open_pixel, name="open"),
    path("c/", views.click, name="click"),
    path("esp/<slug:esp>/tracking/", webhooks.esp_tracking, name="esp_tracking"),
]
