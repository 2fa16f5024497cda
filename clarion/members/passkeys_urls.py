"""URLs of the members' passkeys pages (added to members/urls.py)."""

from django.urls import path

from . import passkeys_views as views

urlpatterns = [
    path("passkeys/", views.passkey_list, name="passkeys"),
    path("passkeys/remove/", views.passkey_remove, name="passkey_remove"),
    path("passkeys/add/options/", views.passkey_add_options, name="passkey_add_options"),
    path("passkeys/add/", views.passkey_add, name="passkey_add"),
    path(
        "passkeys/sign-in/options/",
        views.passkey_sign_in_options,
        name="passkey_sign_in_options",
    ),
    path("passkeys/sign-in/", views.passkey_sign_in, name="passkey_sign_in"),
]
