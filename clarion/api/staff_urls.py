from django.urls import path

from . import staff_views

app_name = "api_staff"

urlpatterns = [
    path("keys/", staff_views.key_list, name="keys"),
    path("keys/new/", staff_views.key_create, name="key_create"),
    path("keys/<int:pk>/revoke/", staff_views.key_revoke, name="key_revoke"),
    path("webhooks/", staff_views.webhook_list, name="webhooks"),
    path("webhooks/deliveries/", staff_views.delivery_list, name="webhook_deliveries"),
    path(
        "webhooks/deliveries/<int:pk>/retry/",
        staff_views.delivery_retry,
        name="webhook_delivery_retry",
    ),
    path("webhooks/<int:pk>/", staff_views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:pk>/toggle/", staff_views.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<int:pk>/secret/", staff_views.webhook_secret, name="webhook_secret"),
]
