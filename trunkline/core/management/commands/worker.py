import signal

from django.core.management.base import BaseCommand

from trunkline.core.jobs import run_ready_jobs, run_worker


class Command(BaseCommand):
    help = "Run background jobs (message sending, imports, ...) until stopped; --once runs the ready ones and exits."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run every ready job, then exit.")
        parser.add_argument("--idle", type=float, default=1.0, help="Seconds to wait when there is nothing to do.")

    def handle(self, *args, once: bool, idle: float, **options) -> None:
        if once:
            count = run_ready_jobs()
            self.stdout.write(f"Ran {count} job{'s' if count != 1 else ''}.")
            return
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True  # finish the job in hand, then leave

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("Trunkline worker started (Ctrl+C stops it after the current job).")
        run_worker(stopping=lambda: stopping, idle=idle)
