from django.urls import path

from clarion.actions.index import donation_index

from . import views

app_name = "donations"
urlpatterns = [
    path("", donation_index, name="index"),
    path("test-checkout/<str:token>/", views.test_checkout, name="test_checkout"),
    path("cancelled/<str:token>/", views.checkout_cancelled, name="checkout_cancelled"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
]
