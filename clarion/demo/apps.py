from django.apps import AppConfig


class DemoConfig(AppConfig):
    """``clarion load_demo``: the demo organisation, made from every app's ``demo``
    module. It sits on top of the apps because it calls into all of them."""

    name = "clarion.demo"
    label = "demo"
    verbose_name = "Demo data"
