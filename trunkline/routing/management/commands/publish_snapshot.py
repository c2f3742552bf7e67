from typing import Any

from django.core.management.base import BaseCommand

from trunkline.routing.snapshot import snapshot_publish


class Command(BaseCommand):
    help = "Build the routing snapshot from the database and write it atomically for the switch nodes."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Published {snapshot_publish()}.")
