from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.home, name="home"),
    path("staff/dashboard/", views.organiser_dashboard, name="dashboard"),
    path("staff/dashboard/never-attended/", views.never_attended_list, name="never_attended"),
    path("staff/dashboard/email-area/", views.email_area, name="email_area"),
    path("staff/reports/funnel/", views.funnel, name="funnel"),
    path("staff/reports/funnel.csv", views.funnel_csv, name="funnel_csv"),
]
