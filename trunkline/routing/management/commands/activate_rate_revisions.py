from django.core.management.base import BaseCommand

from trunkline.core.context import change_context
from trunkline.routing.services.ratecards import rate_revisions_activate_due


class Command(BaseCommand):
    help = "Activate every rate-card revision whose date_live has come (the worker does it too; this is for cron)."

    def handle(self, *args, **options) -> None:
        with change_context(source="command"):
            activated = rate_revisions_activate_due()
        for revision in activated:
            self.stdout.write(f"Activated {revision}.")
        self.stdout.write(f"{len(activated)} revision{'s' if len(activated) != 1 else ''} activated.")
