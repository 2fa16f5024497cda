from django.urls import path

from . import views, webhooks

app_name = "members_join"

urlpatterns = [
    path("", views.join, name="join"),
    path("thanks/", views.thanks, name="thanks"),
    path("direct-debit/return/<str:token>/", views.direct_debit_return, name="dd_return"),
    path("webhooks/gocardless/", webhooks.gocardless_webhook, name="gocardless_webhook"),
    path("webhooks/stripe/", webhooks.stripe_webhook, name="stripe_webhook"),
]
