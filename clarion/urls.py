from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

urlpatterns = [
    path("", include("clarion.core.urls")),
    path("staff/areas/", include("clarion.areas.urls")),
    path("staff/people/", include("clarion.people.urls")),
    path("staff/actions/", include("clarion.actions.staff_urls")),
    path("staff/donations/", include("clarion.donations.staff_urls")),
    path("staff/qa/", include("clarion.qa.staff_urls")),
    path("act/", include("clarion.actions.urls")),
    path("donate/", include("clarion.donations.urls")),
    path("qa/", include("clarion.qa.urls")),
    path("staff/mailings/", include("clarion.mailings.staff_urls")),
    path("m/", include("clarion.mailings.urls")),
    path("staff/events/", include("clarion.events.staff_urls")),
    path("events/", include("clarion.events.urls")),
    path("groups/", include("clarion.areas.public_urls")),
    path("you/", include("clarion.people.public_urls")),
    path("api/v2/", include("clarion.api.urls")),
    path("staff/api/", include("clarion.api.staff_urls")),
    path("django-admin/", admin.site.urls),
]

if settings.DEBUG or settings.DEMO:
    # Uploaded media on a single-machine demo; production serves MEDIA_ROOT from the proxy
    # or an object store.
    urlpatterns += [path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]
