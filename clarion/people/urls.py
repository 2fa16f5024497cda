"""Staff URLs of the people app, gathered from its parts (app namespace ``people``)."""

from django.urls import path

from .imports.urls import urlpatterns as import_urls
from .segments.urls import urlpatterns as segment_urls
from .views import retention
from .views.urls import urlpatterns as person_urls

app_name = "people"

retention_urls = [
    path("retention/", retention.retention_policy, name="retention"),
    path("retention/run/", retention.retention_run_now, name="retention_run"),
]

urlpatterns = [*person_urls, *segment_urls, *import_urls, *retention_urls]
