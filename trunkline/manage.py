"""The `trunkline` console script: Django's management command runner with Trunkline's settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import execute_from_command_line

    from trunkline.core.context import change_context

    # Django's own commands (createsuperuser, changepassword, loaddata) write users too: attribute them.
    with change_context(source="command"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
