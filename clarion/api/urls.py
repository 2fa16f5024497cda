from django.urls import re_path

from clarion.actions import apis as actions_apis
from clarion.donations import apis as donations_apis
from clarion.events import apis as events_apis
from clarion.mailings import apis as mailings_apis

from . import openapi, views

app_name = "api"

# Action Network clients leave off the trailing slash (Parsons posts to ".../people"),
# and a redirect would lose a POST body, so each path takes it either way.
urlpatterns = [
    re_path(r"^$", views.entry_point, name="entry"),
    re_path(r"^openapi\.json$", openapi.openapi_view, name="openapi"),
    re_path(r"^people/?$", views.people, name="people"),
    re_path(r"^people/(?P<person_id>[^/]+)/?$", views.person, name="person"),
    re_path(r"^tags/?$", views.tags, name="tags"),
    re_path(r"^tags/(?P<tag_id>[^/]+)/?$", views.tag, name="tag"),
    re_path(r"^tags/(?P<tag_id>[^/]+)/taggings/?$", views.taggings, name="taggings"),
    re_path(
        r"^tags/(?P<tag_id>[^/]+)/taggings/(?P<tagging_id>[^/]+)/?$", views.tagging, name="tagging"
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/taggings/?$", views.person_taggings, name="person_taggings"
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/taggings/(?P<tagging_id>[^/]+)/?$",
        views.person_tagging,
        name="person_tagging",
    ),
    re_path(r"^lists/?$", views.lists, name="lists"),
    re_path(r"^lists/(?P<list_id>[^/]+)/?$", views.person_list, name="list"),
    re_path(r"^lists/(?P<list_id>[^/]+)/items/?$", views.list_items, name="list_items"),
    re_path(
        r"^lists/(?P<list_id>[^/]+)/items/(?P<item_id>[^/]+)/?$", views.list_item, name="list_item"
    ),
    re_path(r"^queries/?$", views.queries, name="queries"),
    re_path(r"^queries/(?P<query_id>[^/]+)/?$", views.query, name="query"),
    re_path(r"^metadata/?$", views.metadata, name="metadata"),
    re_path(r"^metadata/custom_fields/?$", views.custom_fields, name="custom_fields"),
    # Each app keeps its own resources in its apis.py (STYLE.md), mounted here.
    *actions_apis.urlpatterns,
    *events_apis.urlpatterns,
    *donations_apis.urlpatterns,
    *mailings_apis.urlpatterns,
    re_path(r"^(?P<rest>.+)$", views.unsupported, name="unsupported"),
]
