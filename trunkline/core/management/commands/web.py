from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from trunkline.core.management.commands.createadmin import ADMIN, AdminAccount, create_admin, password_line


class _Server(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # Newer gunicorns open a control socket in $HOME that every server of the user shares (a second
            # `trunkline web`, the tests' servers); nothing here uses it.
            self.cfg.set("control_socket_disable", True)

    def load(self):
        from config.wsgi import application

        return application


def banner(url: str, account: AdminAccount | None) -> str:
    """What `trunkline web` prints once it listens: where, and (under `make run`) who logs in with what."""
    lines = [f"Trunkline is serving on {url} (Ctrl+C stops it)"]
    if account is not None:
        lines += [f"  User:     {ADMIN}", f"  Password: {password_line(account)}"]
    rule = "=" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule]) + "\n"


class Command(BaseCommand):
    help = ("Serve the control panel, the REST API and the portal (gunicorn) on HOST:PORT; says where once the "
            "port is bound (--port 0 takes a free one).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--create-admin", action="store_true", dest="with_admin",
                            help="Create the 'admin' user first unless it exists (as `trunkline createadmin`) and "
                                 "say its password, or how to reset it, with the address (`make run` does).")

    def handle(self, *args: Any, host: str, port: int, workers: int, with_admin: bool, **options: Any) -> None:
        account = create_admin() if with_admin else None
        if account is not None and account.generated_password:
            # Said at once as well: if the port turns out to be taken, the banner below never comes.
            self.stdout.write(f"Created user '{ADMIN}', password: {account.generated_password}")
        # The workers are forked from this process: they must not share its database connection.
        connections.close_all()

        def when_ready(arbiter: Arbiter) -> None:
            bound_host, bound_port = arbiter.LISTENERS[0].sock.getsockname()[:2]
            self.stdout.write(banner(f"http://{bound_host}:{bound_port}/", account))
            self.stdout.flush()

        _Server({
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": 4,
            "accesslog": "-",
            # Warnings and errors only: the banner says where it serves, and ends what `make run` prints.
            "loglevel": "warning",
            "timeout": 120,
            "when_ready": when_ready,
        }).run()
