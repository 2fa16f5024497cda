from django.urls import path

from . import manage, merge, people, privacy

urlpatterns = [
    path("", people.person_list, name="list"),
    path("duplicates/", merge.person_duplicates, name="duplicates"),
    path("<int:person_id>/", people.person_detail, name="detail"),
    path("<int:person_id>/edit/", people.person_edit, name="edit"),
    path("<int:person_id>/tags/add/", people.person_tag_add, name="tag_add"),
    path("<int:person_id>/tags/<int:tag_id>/remove/", people.person_tag_remove, name="tag_remove"),
    path("<int:person_id>/lists/add/", people.person_list_add, name="list_add"),
    path(
        "<int:person_id>/lists/<int:list_id>/remove/", people.person_list_remove, name="list_remove"
    ),
    path("<int:person_id>/notes/add/", people.person_note_add, name="note_add"),
    path(
        "<int:person_id>/proposals/<int:proposal_id>/",
        people.person_proposal_decide,
        name="proposal_decide",
    ),
    path("<int:person_id>/merge/", merge.person_merge_search, name="merge"),
    path("<int:person_id>/merge/<int:other_id>/", merge.person_merge_confirm, name="merge_confirm"),
    path("<int:person_id>/export/", privacy.person_export, name="export"),
    path("<int:person_id>/erase/", privacy.person_erase, name="erase"),
    path("tags/", manage.tag_list, name="tag_list"),
    path("tags/<int:tag_id>/", manage.tag_edit, name="tag_edit"),
    path("tags/<int:tag_id>/delete/", manage.tag_delete, name="tag_delete"),
    path("lists/", manage.list_list, name="list_list"),
    path("lists/<int:list_id>/", manage.list_edit, name="list_edit"),
    path("lists/<int:list_id>/delete/", manage.list_delete, name="list_delete"),
    path("fields/", manage.customfield_list, name="customfield_list"),
    path("fields/new/", manage.customfield_edit, name="customfield_create"),
    path("fields/<int:field_id>/", manage.customfield_edit, name="customfield_edit"),
]
