"""`trunkline switch ...`: the engine's command line. trunkline/manage.py hands it `switch` commands before
Django is set up, and nothing here imports Django, so a switch process never loads it (tests/switch/test_main.py
proves it in a subprocess). Without a command, `trunkline switch [options]` serves SIP and HTTP (server.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trunkline.contracts.codec import SNAPSHOT_FILE, SnapshotFormatError, read_snapshot
from trunkline.switch.config import DEFAULT_HOST, DEFAULT_HTTP_PORT, DEFAULT_SIP_PORT
from trunkline.switch.index import SnapshotIndex

# config/settings.py's default var directory (the repository's var/), reproduced without importing the settings.
_DEFAULT_VAR_DIR = Path(__file__).resolve().parents[2] / "var"


def default_routing_file() -> Path:
    """Where the publisher writes the routing file: $TRUNKLINE_VAR_DIR/routing-snapshot.json, as the settings say."""
    return default_var_dir() / SNAPSHOT_FILE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="trunkline switch", description="The call-control engine (no Django). Without a command: serve SIP on "
        "UDP and TCP (redirect server: 302 with the gateways, 407 digest, reject codes) and HTTP for Kamailio "
        "(POST /route, POST /events, GET /health).")
    parser.add_argument("--sip-port", type=int, default=None,
                        help=f"SIP port, UDP and TCP (default $SWITCH_SIP_PORT, else {DEFAULT_SIP_PORT})")
    parser.add_argument("--http-port", type=int, default=None,
                        help=f"HTTP port (default $SWITCH_HTTP_PORT, else {DEFAULT_HTTP_PORT})")
    parser.add_argument("--host", default=None,
                        help=f"address to listen on (default $SWITCH_HOST, else {DEFAULT_HOST})")
    parser.add_argument("--processes", type=int, default=None,
                        help="processes serving the same sockets (default $SWITCH_PROCESSES, else 1); more than one "
                             "needs COUNTERS_URL (shared live counters in Redis)")
    parser.add_argument("--routing-file", type=Path, default=None,
                        help=f"default: $TRUNKLINE_VAR_DIR/{SNAPSHOT_FILE} (var/ in the repository when unset)")
    parser.add_argument("--slice", type=int, default=None, dest="slice_seconds",
                        help="seconds of talk time a call's reservation buys at a time (default "
                             "$SWITCH_RESERVATION_SLICE, else 60); calls through Kamailio only")
    commands = parser.add_subparsers(dest="command", required=False, metavar="COMMAND")
    check = commands.add_parser(
        "check", help="load the routing file and build the index; print counts, times and peak memory",
        description="Load the published routing file, build the index the switch decides with, and print what it "
                    "holds, how long loading and building took and the process's peak memory. Exit 2 when the "
                    "file is missing or unreadable.")
    check.add_argument("--routing-file", type=Path, default=None, dest="check_routing_file",
                       help=f"default: $TRUNKLINE_VAR_DIR/{SNAPSHOT_FILE} (var/ in the repository when unset)")
    options = parser.parse_args(argv)
    if options.command == "check":
        return check_routing_file(options.check_routing_file or options.routing_file or default_routing_file())
    return serve_command(options)


def serve_command(options: argparse.Namespace) -> int:
    from trunkline.switch.config import ConfigError, resolve
    from trunkline.switch.server import serve

    try:
        config = resolve(host=options.host, sip_port=options.sip_port, http_port=options.http_port,
                         processes=options.processes, routing_file=options.routing_file or default_routing_file(),
                         var_dir=default_var_dir(), slice_seconds=options.slice_seconds)
    except ConfigError as error:
        sys.stderr.write(f"trunkline switch: {error}\n")
        return 2
    return serve(config)


def default_var_dir() -> Path:
    return Path(os.environ.get("TRUNKLINE_VAR_DIR", _DEFAULT_VAR_DIR))


def check_routing_file(path: Path) -> int:
    started = time.perf_counter()
    try:
        snapshot = read_snapshot(path)
    except FileNotFoundError:
        sys.stderr.write(f"trunkline switch check: no routing file at {path}; publish one with "
                         f"`trunkline publish_snapshot` or name it with --routing-file\n")
        return 2
    except (OSError, SnapshotFormatError) as error:
        sys.stderr.write(f"trunkline switch check: cannot read the routing file {path}: {error}\n")
        return 2
    loaded = time.perf_counter()
    index = SnapshotIndex(snapshot)
    indexed = time.perf_counter()
    counts = (
        ("customers", len(snapshot.customers)), ("IP-auth entries", len(snapshot.ip_auths)),
        ("SIP users", len(snapshot.sip_users)), ("ingress routes", len(snapshot.ingress_routes)),
        ("CLI rules", len(snapshot.cli_rules)), ("parameter rewrites", len(snapshot.parameter_rewrites)),
        ("providers", len(snapshot.providers)), ("rate cards", len(snapshot.rate_cards)),
        ("rate rows", sum(len(card.rows) for card in snapshot.rate_cards)),
        ("customer cards indexed", len(index.cards)),
    )
    lines = [f"routing file {path}: revision {snapshot.revision}, schema {snapshot.schema_version}, "
             f"generated {snapshot.generated_at.isoformat()}",
             *(f"  {name}: {count:,}" for name, count in counts),
             f"loaded in {loaded - started:.2f} s, index built in {indexed - loaded:.2f} s, "
             f"peak RSS {_peak_rss_bytes() / 2**20:.0f} MiB"]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux
