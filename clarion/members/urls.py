from django.urls import path

from . import local_urls, passkeys_urls, views, volunteer_urls

app_name = "members"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/<str:token>/", views.sign_in_link, name="sign_in_link"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("details/", views.details, name="details"),
    path("details/proposal/", views.proposal_decide, name="proposal_decide"),
    path("preferences/", views.preferences, name="preferences"),
    path("membership/", views.membership, name="membership"),
    path("membership/cancel/", views.membership_cancel, name="membership_cancel"),
    path("membership/card/", views.card, name="card"),
    path("card/<str:token>/", views.card_check, name="card_check"),
    path("events/", views.events, name="events"),
    path("events/cancel/", views.event_cancel, name="event_cancel"),
]

# The local party, my actions and recruits; passkeys.
urlpatterns += local_urls.urlpatterns + passkeys_urls.urlpatterns
urlpatterns += volunteer_urls.urlpatterns
