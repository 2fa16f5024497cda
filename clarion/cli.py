"""The ``clarion`` command: Django's manage.py for this project."""

import os
import sys

from clarion.demo_env import demo_env_load

# What `clarion` exits with when the settings are wrong (as argparse does for bad usage).
EXIT_BAD_SETTINGS = 2


def _settings_load() -> str | None:
    """Load the settings now; the one-line reason they are wrong, or None.

    A bad environment variable is an operator's typo, not a bug: one line naming the
    variable says all there is to say, where a traceback would bury it.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from environs import EnvError

    try:
        settings.INSTALLED_APPS  # noqa: B018 (importing the settings module is the point)
    except (ImproperlyConfigured, EnvError) as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarion.settings")
    demo_env_load()  # var/demo.env from `make run`, only while no secret key is set
    problem = _settings_load()
    if problem is not None:
        print(f"clarion: {problem}", file=sys.stderr)
        sys.exit(EXIT_BAD_SETTINGS)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
