from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from clarion.core.storage import PUBLIC_MEDIA_PREFIXES

urlpatterns = [
    path("", include("clarion.reports.urls")),
    path("", include("clarion.core.urls")),
    path("staff/areas/", include("clarion.areas.urls")),
    path("staff/people/", include("clarion.people.urls")),
    path("staff/actions/", include("clarion.actions.staff_urls")),
    path("staff/donations/", include("clarion.donations.staff_urls")),
    path("staff/qa/", include("clarion.qa.staff_urls")),
    path("staff/engagement/", include("clarion.engagement.urls")),
    path("act/", include("clarion.actions.urls")),
    path("donate/", include("clarion.donations.urls")),
    path("qa/", include("clarion.qa.urls")),
    path("staff/mailings/", include("clarion.mailings.staff_urls")),
    path("m/", include("clarion.mailings.urls")),
    path("staff/events/", include("clarion.events.staff_urls")),
    path("staff/journeys/", include("clarion.journeys.urls")),
    path("events/", include("clarion.events.urls")),
    path("groups/", include("clarion.groups.urls")),
    path("you/", include("clarion.people.public_urls")),
    path("members/join/", include("clarion.members.payments.urls")),
    path("members/", include("clarion.members.urls")),
    path("staff/members/", include("clarion.members.staff_urls")),
    path("api/v2/", include("clarion.api.urls")),
    path("staff/api/", include("clarion.api.staff_urls")),
    path("django-admin/", admin.site.urls),
]

if settings.DEBUG or settings.DEMO:
    # Public uploads (hero images) on a single-machine demo; production serves them from
    # the proxy or an object store. Only the public prefixes are mounted, so a file an
    # older install left elsewhere under MEDIA_ROOT (imports before private storage) is
    # never served here.
    urlpatterns += [
        path(
            f"media/{prefix}<path:path>",
            serve,
            {"document_root": settings.MEDIA_ROOT / prefix},
        )
        for prefix in PUBLIC_MEDIA_PREFIXES
    ]
