from django.apps import AppConfig


class GroupsConfig(AppConfig):
    """Local groups' public pages: find a group, read how to get involved, join it.

    The group is an area (``areas.Area`` holds the page's text and join tag, which
    organisers edit on the area's staff page); this app sits above people, actions and
    events because a join records a person and a group page lists local events."""

    name = "clarion.groups"
    label = "groups"
    verbose_name = "Local groups"
