import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trunkline.notifications.outbox import SMS_PORT, SMTP_PORT, Outbox


class Command(BaseCommand):
    help = ("Run a local mail and SMS sink (SMTP on 127.0.0.1:8025, a Twilio-compatible SMS API on "
            "http://127.0.0.1:8026) that writes every message to var/outbox/ instead of sending it. `make run` "
            "starts it and the demo data points Setup > Settings at it.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--smtp-port", type=int, default=SMTP_PORT)
        parser.add_argument("--sms-port", type=int, default=SMS_PORT)

    def handle(self, *args: Any, smtp_port: int, sms_port: int, **options: Any) -> None:
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda signum, frame: stopped.set())
        signal.signal(signal.SIGINT, lambda signum, frame: stopped.set())

        def report(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        outbox = Outbox(settings.VAR_DIR / "outbox", smtp_port=smtp_port, sms_port=sms_port, report=report)
        try:
            outbox.start()
        except OSError as error:
            raise CommandError(f"The outbox cannot listen on 127.0.0.1:{smtp_port} (SMTP) and :{sms_port} (SMS): "
                               f"{error}") from error
        report(f"Outbox: email to 127.0.0.1:{outbox.smtp_port} and SMS to {outbox.sms_url} are written to "
               f"{outbox.folder}/, not sent.")
        stopped.wait()
        outbox.stop()
