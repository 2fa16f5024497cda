from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "clarion.people"
    label = "people"
    verbose_name = "People"
