import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from trunkline.core.context import change_context


class Command(BaseCommand):
    help = ("Create the 'admin' user once: password from TRUNKLINE_ADMIN_PASSWORD, else generated and printed "
            "this one time.")

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            return
        password = os.environ.get("TRUNKLINE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        with change_context(source="command"):
            User.objects.create_superuser("admin", email="", password=password, role=User.Role.ADMIN)
        if os.environ.get("TRUNKLINE_ADMIN_PASSWORD"):
            self.stdout.write("Created user 'admin' with the password from TRUNKLINE_ADMIN_PASSWORD.")
        else:
            self.stdout.write(self.style.WARNING(
                f"Created user 'admin' with password: {password}\n"
                "It is shown only this once; change it after logging in."))
