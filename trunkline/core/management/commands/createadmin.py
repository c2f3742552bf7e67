import os
import secrets
import sys
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from trunkline.core.context import change_context

ADMIN = "admin"


@dataclass(frozen=True)
class AdminAccount:
    """What `create_admin` did: created the user or found it, and the password it generated (if it did)."""

    created: bool
    generated_password: str = ""


def create_admin() -> AdminAccount:
    """Create the 'admin' user unless it exists: password from TRUNKLINE_ADMIN_PASSWORD, else generated."""
    User = get_user_model()
    if User.objects.filter(username=ADMIN).exists():
        return AdminAccount(created=False)
    from_environment = os.environ.get("TRUNKLINE_ADMIN_PASSWORD", "")
    password = from_environment or secrets.token_urlsafe(12)
    with change_context(source="command"):
        User.objects.create_superuser(ADMIN, email="", password=password, role=User.Role.ADMIN)
    return AdminAccount(created=True, generated_password="" if from_environment else password)


def trunkline_command() -> str:
    """The console script as this process was started (".venv/bin/trunkline" under `make run`), so a hint to run
    it can be pasted as it is."""
    return sys.argv[0] if os.path.basename(sys.argv[0]) == "trunkline" else "trunkline"


def password_line(account: AdminAccount) -> str:
    """One line about the admin's password for the operator's terminal; never names a password it did not make."""
    if account.generated_password:
        return f"{account.generated_password}  (generated now and shown only this once; change it after logging in)"
    if account.created:
        return "the one in TRUNKLINE_ADMIN_PASSWORD"
    return f"unchanged; forgotten? set a new one: {trunkline_command()} changepassword {ADMIN}"


class Command(BaseCommand):
    help = ("Create the 'admin' user once: password from TRUNKLINE_ADMIN_PASSWORD, else generated and printed "
            "this one time.")

    def handle(self, *args, **options) -> None:
        account = create_admin()
        if account.created:
            self.stdout.write(self.style.WARNING(f"Created user '{ADMIN}', password: {password_line(account)}"))
        else:
            self.stdout.write(f"User '{ADMIN}' exists, password {password_line(account)}")
