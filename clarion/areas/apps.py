from django.apps import AppConfig


class AreasConfig(AppConfig):
    name = "clarion.areas"
    label = "areas"
    verbose_name = "Areas"
