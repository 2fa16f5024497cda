"""Staff URLs of the people app, gathered from its parts (app namespace ``people``)."""

from .imports.urls import urlpatterns as import_urls
from .segments.urls import urlpatterns as segment_urls
from .views.urls import urlpatterns as person_urls

app_name = "people"

urlpatterns = [*person_urls, *segment_urls, *import_urls]
