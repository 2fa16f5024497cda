from django.urls import path

from .views import public

app_name = "people_public"

urlpatterns = [
    path("details/<str:token>/", public.proposal_view, name="proposal"),
]
