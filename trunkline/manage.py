"""The `trunkline` console script: Django's management command runner with Trunkline's settings.

`trunkline switch ...` is the engine's own command line (trunkline/switch/main.py): dispatched before Django is
imported, so the switch process never loads it.
"""

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["switch"]:
        from trunkline.switch.main import main as switch_main

        sys.exit(switch_main(sys.argv[2:]))
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
