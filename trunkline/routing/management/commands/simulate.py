import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trunkline.routing.services.simulations import simulate_and_record


class Command(BaseCommand):
    help = "Decide a call as the switch would against the current data and print the result and its trace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ip", required=True, help="The source IP of the call.")
        parser.add_argument("--dst", required=True, help="The dialled number.")
        parser.add_argument("--cli", required=True, help="The caller ID.")
        parser.add_argument("--user", help="A SIP user (simulated as authenticated).")
        parser.add_argument("--pai", help="The P-Asserted-Identity.")
        parser.add_argument("--json", action="store_true", help="Print the same JSON as POST /api/v1/simulate/.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = simulate_and_record(created_by=None, dst=options["dst"], cli=options["cli"], ip=options["ip"],
                                     user=options["user"], pai=options["pai"]).answer
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        verdict = "ROUTED" if result["routed"] else "REJECTED"
        self.stdout.write(f"{result['call_id']} {verdict} {result['code']} {result['reason']}")
        for line in result["trace"]:
            self.stdout.write(f"  {line}")
        for position, item in enumerate(result["egress"], start=1):
            self.stdout.write(f"  {position}. {item['provider']['name']} {', '.join(item['gateway'])} "
                              f"cost {item['cost']}/min margin {item['margin']}/min")
        if result["routed"]:
            limit = result["max_duration"]
            self.stdout.write(f"  max duration {'unlimited' if limit is None else f'{limit} s'}, "
                              f"recording {'on' if result['recording'] else 'off'}")
