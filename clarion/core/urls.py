from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("staff/two-factor/", views.two_factor_verify, name="two_factor_verify"),
    path("staff/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("staff/password/", views.password_change, name="password_change"),
    path("password/set/<uidb64>/<token>/", views.password_set, name="password_set"),
]

urlpatterns += [
    path("staff/users/", views.user_list, name="user_list"),
    path("staff/users/new/", views.user_create, name="user_create"),
    path("staff/users/<int:pk>/", views.user_edit, name="user_edit"),
    path("staff/users/<int:pk>/active/", views.user_set_active, name="user_set_active"),
    path(
        "staff/users/<int:pk>/two-factor-reset/",
        views.user_two_factor_reset,
        name="user_two_factor_reset",
    ),
    path(
        "staff/users/<int:pk>/password-link/", views.user_password_link, name="user_password_link"
    ),
    path("staff/audit/", views.audit_log, name="audit_log"),
    path("staff/outbox/", views.outbox, name="outbox"),
]
