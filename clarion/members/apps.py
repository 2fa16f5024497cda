from django.apps import AppConfig


class MembersConfig(AppConfig):
    """The members' home: sign-in by email link, a member's own details, preferences,
    membership and local party. It draws on groups, events and donations, so it sits
    above them."""

    name = "clarion.members"
    label = "members"
    verbose_name = "Members"
