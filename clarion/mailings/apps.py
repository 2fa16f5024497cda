from django.apps import AppConfig


class MailingsConfig(AppConfig):
    name = "clarion.mailings"
    label = "mailings"
    verbose_name = "Mailings"

    def ready(self):
        from . import privacy  # noqa: F401  (registers export, erase and merge)
