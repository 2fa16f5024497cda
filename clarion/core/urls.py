from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("staff/two-factor/", views.two_factor_verify, name="two_factor_verify"),
    path("staff/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
]

urlpatterns += [
    path("staff/users/", views.user_list, name="user_list"),
    path("staff/audit/", views.audit_log, name="audit_log"),
]
