from django.urls import path

from . import staff_views

app_name = "donations_staff"
urlpatterns = [
    path("", staff_views.donation_list, name="list"),
    path("<int:pk>/", staff_views.donation_detail, name="detail"),
    path("<int:pk>/permissibility/", staff_views.permissibility, name="permissibility"),
    path("page/<int:pk>/donors/", staff_views.page_donors_export, name="page_donors"),
    path(
        "page/<int:pk>/donors/segment/", staff_views.page_donors_segment, name="page_donors_segment"
    ),
    path("compliance/", staff_views.compliance, name="compliance"),
    path("plans/", staff_views.plan_list, name="plans"),
    path("plans/<int:pk>/renew/", staff_views.plan_renew, name="plan_renew"),
    path("plans/<int:pk>/cancel/", staff_views.plan_cancel, name="plan_cancel"),
]
